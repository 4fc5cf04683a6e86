#include "sim/RouteTable.h"

namespace bulkwarden::sim {

std::vector<std::string> RouteTable::split(std::string_view path) {
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const auto end = slash == std::string_view::npos ? path.size() : slash;
    if (end > start) segments.emplace_back(path.substr(start, end - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return segments;
}

void RouteTable::add(std::string_view pattern, std::string method, RouteAuth auth,
                     Handler handler) {
  entries_.push_back({split(pattern), std::move(method), auth, std::move(handler)});
}

RouteTable::Match RouteTable::match(std::string_view method,
                                    const std::vector<std::string>& segments) const {
  Match result;
  for (const Entry& e : entries_) {
    if (e.pattern.size() != segments.size()) continue;
    Match m;
    bool same = true;
    for (std::size_t i = 0; i < segments.size() && same; ++i) {
      const std::string& p = e.pattern[i];
      if (p == "{version}") {
        m.version = segments[i];
        m.base.clear();
        for (std::size_t k = 0; k <= i; ++k) m.base += "/" + segments[k];
      } else if (p == "{id}") {
        m.id = segments[i];
      } else {
        same = p == segments[i];
      }
    }
    if (!same) continue;
    if (e.method == method || e.method == "*") {
      m.kind = Match::Kind::Found;
      m.auth = e.auth;
      m.handler = &e.handler;
      return m;
    }
    // The same path with another method: remember what it allows.
    if (result.kind == Match::Kind::NotFound) {
      result = std::move(m);
      result.kind = Match::Kind::WrongMethod;
      result.auth = e.auth;
    }
    if (!result.allowed.empty()) result.allowed += ',';
    result.allowed += e.method;
  }
  return result;
}

}  // namespace bulkwarden::sim
