// A throwaway PostgreSQL 15 for the cluster tests: initdb into a temporary folder and a postgres
// listening on a unix socket in that folder and on a loopback TCP port. PostgreSQL refuses to run
// as root, so when the tests run as root (here and in CI) initdb and postgres run as `nobody`
// (fork, setgid/setuid, exec) and the folder is given to that user. stop() shuts it down fast;
// start() again reuses the data (a restart). Not thread-safe.
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace bulkwarden::testing {

inline constexpr const char* kPgBin = "/usr/lib/postgresql/15/bin";

class PgServer {
 public:
  PgServer() {
    char tmpl[] = "/tmp/bw-pg-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp");
    dir_ = tmpl;
    if (::geteuid() == 0) {
      const passwd* pw = ::getpwnam("nobody");
      if (pw == nullptr) throw std::runtime_error("no user nobody");
      uid_ = pw->pw_uid;
      gid_ = pw->pw_gid;
      if (::chown(dir_.c_str(), uid_, gid_) != 0) throw std::runtime_error("chown");
    }
    ::chmod(dir_.c_str(), 0700);
    port_ = freePort();
    int rc = runAsOwner({std::string(kPgBin) + "/initdb", "-D", dir_ + "/data", "-U", "bulkwarden",
                         "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"},
                        dir_ + "/initdb.log", true);
    if (rc != 0) throw std::runtime_error("initdb failed: see " + dir_ + "/initdb.log");
    start();
  }
  ~PgServer() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  void start() {
    pid_ = spawnAsOwner({std::string(kPgBin) + "/postgres", "-D", dir_ + "/data", "-k", dir_, "-p",
                         std::to_string(port_), "-c", "listen_addresses=127.0.0.1", "-c",
                         "fsync=off", "-c", "max_connections=60"},
                        dir_ + "/postgres.log");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (PQping(conninfo().c_str()) != PQPING_OK) {
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error("postgres did not start: see " + dir_ + "/postgres.log");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGINT);  // fast shutdown
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  int port() const { return port_; }
  // Over TCP on loopback (what a proxy can stand between).
  std::string conninfo(int port = 0) const {
    return "host=127.0.0.1 port=" + std::to_string(port != 0 ? port : port_) +
           " dbname=postgres user=bulkwarden";
  }

  // Runs one statement; returns the first column of every row. Fails the test on error, unless
  // `quiet` (then: no rows).
  std::vector<std::string> query(const std::string& sql, bool quiet = false) const {
    std::vector<std::string> out;
    PGconn* c = PQconnectdb(conninfo().c_str());
    if (PQstatus(c) != CONNECTION_OK) {
      ADD_FAILURE() << PQerrorMessage(c);
      PQfinish(c);
      return out;
    }
    PGresult* r = PQexec(c, sql.c_str());
    auto st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
      if (!quiet) ADD_FAILURE() << sql << ": " << PQresultErrorMessage(r);
    } else {
      for (int i = 0; i < PQntuples(r); ++i) out.emplace_back(PQgetvalue(r, i, 0));
    }
    PQclear(r);
    PQfinish(c);
    return out;
  }

 private:
  static int freePort() {
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(s);
    return ntohs(a.sin_port);
  }
  pid_t spawnAsOwner(const std::vector<std::string>& args, const std::string& log) const {
    pid_t pid = ::fork();
    if (pid == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      if (::geteuid() == 0) {
        if (fd >= 0) (void)::fchown(fd, uid_, gid_);
        if (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::setuid(uid_) != 0) _exit(126);
      }
      ::setpgid(0, 0);
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      _exit(127);
    }
    return pid;
  }
  int runAsOwner(const std::vector<std::string>& args, const std::string& log, bool) const {
    pid_t pid = spawnAsOwner(args, log);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string dir_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace bulkwarden::testing
