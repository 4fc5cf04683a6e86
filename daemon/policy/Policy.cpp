#include "policy/Policy.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "model/Names.h"

namespace bulkwarden::policy {

std::string SourceLocation::str() const {
  if (line <= 0) return file;
  return fmt::format("{}:{}:{}", file, line, column);
}

namespace {

constexpr std::array<model::Named<Action>, 3> kActionNames{{
    {Action::Abort, "abort"},
    {Action::Delete, "delete"},
    {Action::Report, "report"},
}};

constexpr std::array<model::Named<Mode>, 2> kModeNames{{
    {Mode::Enforce, "enforce"},
    {Mode::DryRun, "dry-run"},
}};

constexpr std::array<model::Named<Op>, 10> kOpNames{{
    {Op::Eq, "eq"},
    {Op::Ne, "ne"},
    {Op::In, "in"},
    {Op::NotIn, "not-in"},
    {Op::Regex, "regex"},
    {Op::Glob, "glob"},
    {Op::Gt, "gt"},
    {Op::Ge, "ge"},
    {Op::Lt, "lt"},
    {Op::Le, "le"},
}};

}  // namespace

std::string_view toString(Action action) { return model::nameOf(kActionNames, action); }

std::optional<Action> parseAction(std::string_view text) {
  return model::valueNamed(kActionNames, text);
}

std::string_view toString(Mode mode) { return model::nameOf(kModeNames, mode); }

std::optional<Mode> parseMode(std::string_view text) { return model::valueNamed(kModeNames, text); }

std::string_view toString(Op op) { return model::nameOf(kOpNames, op); }

std::optional<Op> parseOp(std::string_view text) { return model::valueNamed(kOpNames, text); }

bool Policy::appliesTo(std::string_view org) const {
  return orgs.empty() || std::find(orgs.begin(), orgs.end(), org) != orgs.end();
}

std::optional<model::Timestamp> Schedule::nextAfter(model::Timestamp after) const {
  if (cron) return cron->next(after, zone ? *zone : *TimeZone::utc());
  return after + every;
}

std::optional<model::Timestamp> Schedule::fireCovering(model::Timestamp t) const {
  if (!cron) return t;
  // The first fire time at or after t - deadline; on time when it is not after t.
  auto f = nextAfter(t - startingDeadline - std::chrono::seconds(1));
  if (!f || *f > t) return std::nullopt;
  // Several fire times may lie in the span: the latest is the one a pass now stands for.
  for (auto g = nextAfter(*f); g && *g <= t; g = nextAfter(*g)) f = g;
  return f;
}

model::Timestamp Schedule::firstDue(std::optional<model::Timestamp> last,
                                    model::Timestamp now) const {
  // A cron that never fires again (refused at load, so only in theory): a week from now.
  auto far = now + std::chrono::days(7);
  if (!cron) {
    if (!last) return now;
    auto n = *last + every;
    return n <= now ? now : n;  // missed one or more ticks: one catch-up pass now
  }
  if (last) {
    auto f = fireCovering(now);
    if (f && *f > *last) return now;  // missed, but within the starting deadline
  }
  auto n = nextAfter(now);
  return n ? *n : far;
}

std::vector<model::Timestamp> Schedule::upcoming(std::optional<model::Timestamp> last,
                                                 model::Timestamp now, size_t count) const {
  std::vector<model::Timestamp> out;
  if (count == 0) return out;
  out.push_back(firstDue(last, now));
  while (out.size() < count) {
    auto n = nextAfter(out.back());
    if (!n) break;
    out.push_back(*n);
  }
  return out;
}

std::string Schedule::describe() const {
  if (!cron) return "every " + model::formatDuration(every);
  return fmt::format("cron \"{}\" {}, starting-deadline {}", cron->text(),
                     zone ? zone->name() : std::string("UTC"),
                     model::formatDuration(startingDeadline));
}

bool Window::contains(int dow, int minuteOfDay) const {
  if (from < to)
    return days.test(static_cast<size_t>(dow)) && minuteOfDay >= from && minuteOfDay < to;
  // Spans midnight: open from `from` on a listed day until `to` on the next day.
  int prev = (dow + 6) % 7;
  return (days.test(static_cast<size_t>(dow)) && minuteOfDay >= from) ||
         (days.test(static_cast<size_t>(prev)) && minuteOfDay < to);
}

bool Windows::open(model::Timestamp t) const {
  if (empty()) return true;
  using namespace std::chrono;
  int64_t utc = floor<seconds>(t).time_since_epoch().count();
  int64_t local = utc + (zone ? zone->offsetAt(utc) : 0);
  int64_t day = local >= 0 ? local / 86400 : (local - 86399) / 86400;
  int minute = static_cast<int>((local - day * 86400) / 60);
  int dow = static_cast<int>(weekday{sys_days{days{day}}}.c_encoding());
  auto in = [&](const std::vector<Window>& ws) {
    return std::any_of(ws.begin(), ws.end(),
                       [&](const Window& w) { return w.contains(dow, minute); });
  };
  if (!allow.empty() && !in(allow)) return false;
  return !in(deny);
}

std::optional<model::Timestamp> Windows::nextOpen(model::Timestamp t,
                                                  model::Timestamp limit) const {
  if (open(t)) return t;
  // Windows are whole minutes of local time, and local time moves by whole minutes (or
  // quarter hours) at offset changes: checking each minute start finds the opening.
  using namespace std::chrono;
  auto m = ceil<minutes>(t);
  for (int i = 0; i < 8 * 24 * 60 && m < limit; ++i, m += minutes(1)) {
    if (open(m)) return model::Timestamp(m);
  }
  return std::nullopt;
}

bool Exemption::covers(const model::Job& job, model::Timestamp now) const {
  if (until && now >= *until) return false;
  switch (by) {
    case By::Job:
      return job.id == value;
    case By::CreatedById:
      return job.createdById == value;
    case By::Object:
      return job.object == value;
  }
  return false;
}

const Exemption* Policy::exemptionFor(const model::Job& job, model::Timestamp now) const {
  for (const auto& e : exempt) {
    if (e.covers(job, now)) return &e;
  }
  return nullptr;
}

}  // namespace bulkwarden::policy
