#include "app/ExitCodes.h"

#include <sys/statvfs.h>

#include <filesystem>

namespace bulkwarden::app {

int stateExitCode(const state::StateError& e) {
  switch (e.kind()) {
    case state::StateError::Kind::Unsafe:
      return kExitConfig;
    case state::StateError::Kind::Temporary:
      return kExitTempFail;
    case state::StateError::Kind::Other:
      break;
  }
  return kExitIoErr;
}

int auditOpenExitCode(const std::string& path) {
  // The audit log (daemon/audit) reports its failure as text; the cause that matters for the
  // exit code, a file system that is read-only or full, is a property of the mount, read here.
  std::filesystem::path p = path.empty() ? "." : path;
  std::error_code ec;
  while (!std::filesystem::exists(p, ec) && p.has_parent_path() && p.parent_path() != p) {
    p = p.parent_path();
  }
  struct statvfs vfs {};
  if (::statvfs(p.c_str(), &vfs) != 0) return kExitIoErr;
  if ((vfs.f_flag & ST_RDONLY) != 0) return kExitTempFail;
  if (vfs.f_bavail == 0) return kExitTempFail;
  return kExitIoErr;
}

}  // namespace bulkwarden::app
