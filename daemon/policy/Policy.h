// The policy model: what a policy matches (a filter tree), what it does, when, and where it was
// written. Built by config/ from YAML, read by the evaluator and the engine. Immutable once
// loaded, so one Policy may be read from many threads.
#pragma once

#include <bitset>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/Job.h"
#include "model/Time.h"
#include "policy/Cron.h"
#include "policy/Regex.h"
#include "policy/TimeZone.h"

namespace bulkwarden::policy {

// Where something was written: a file and a 1-based line and column. line 0 = unknown.
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
  std::string str() const;  // "policies/a.yaml:12:7" (or just the file when line is 0)
};

enum class Action { Abort, Delete, Report };
enum class Mode { Enforce, DryRun };

std::string_view toString(Action action);
std::optional<Action> parseAction(std::string_view text);
std::string_view toString(Mode mode);
std::optional<Mode> parseMode(std::string_view text);

// Comparison operators of an operator map: `{ regex: "^Acc" }`, `{ gt: 2026-01-01T00:00:00Z }`.
enum class Op { Eq, Ne, In, NotIn, Regex, Glob, Gt, Ge, Lt, Le };
std::string_view toString(Op op);
std::optional<Op> parseOp(std::string_view text);

// One node of a filter tree. A policy's `filters:` list is an All node.
struct Filter {
  enum class Kind {
    All,         // every child holds (an empty All always holds)
    Any,         // at least one child holds (`or:`)
    Not,         // the single child does not hold (`not:`)
    State,       // `state:` value or list -> stateMask
    OlderThan,   // `older-than: {field, age}` -> timeField, age: now - job.<field> > age
    InStateFor,  // `in-state-for: age`: now - (first seen in its current state) > age
    Field,       // `<jobField>: value | list | {op: value}` -> field, op, values / times / regex
  };
  Kind kind = Kind::All;
  SourceLocation where;

  std::vector<Filter> children;  // All, Any, Not (exactly one)

  uint32_t stateMask = 0;  // State: bit (1 << int(JobState)) set for each accepted state

  model::JobField timeField = model::JobField::CreatedDate;  // OlderThan
  model::Duration age{0};                                    // OlderThan, InStateFor

  model::JobField field = model::JobField::Id;  // Field
  Op op = Op::Eq;                               // Field
  // Field: the operands as text (Eq/Ne/Gt.. one value; In/NotIn several; Glob one pattern).
  std::vector<std::string> values;
  // Field on createdDate/systemModstamp: operands parsed as timestamps, same order as values.
  std::vector<model::Timestamp> times;
  // Field with Op::Regex: compiled once at load time (RE2); matching is const and thread-safe.
  std::shared_ptr<const Regex> regex;
};

// How long after a cron fire time a pass may still start when that time was missed (the daemon
// was down, reloading, or busy with another pass of the org): the Kubernetes CronJob
// `startingDeadlineSeconds`. One hour covers a restart, an upgrade or a long pass, and keeps a
// nightly policy from running in the middle of the day after a long outage.
inline constexpr model::Duration kDefaultStartingDeadline = std::chrono::hours(1);

// How often a policy runs: every `every`, or at the fire times of `cron` in `zone`.
struct Schedule {
  model::Duration every{std::chrono::minutes(5)};
  std::optional<Cron> cron;              // set: cron schedule, `every` unused
  std::shared_ptr<const TimeZone> zone;  // cron's zone (UTC when not given)
  // Cron only: a missed fire time runs late only within this.
  model::Duration startingDeadline = kDefaultStartingDeadline;

  // The first scheduled time strictly after `after`.
  std::optional<model::Timestamp> nextAfter(model::Timestamp after) const;
  // Cron: the latest fire time in [t - startingDeadline, t], for which a pass at `t` is on time
  // (or late within the deadline); nullopt: `t` is outside the schedule. Interval: `t`.
  std::optional<model::Timestamp> fireCovering(model::Timestamp t) const;
  // When a policy whose last pass began at `last` (none: it never ran) is first due, seen at
  // `now`. Interval: at once if it never ran or a tick was missed, else `last + every`. Cron: at
  // once if a fire time after `last` was missed by no more than the starting deadline (one late
  // pass, however many were missed), else the next fire time; a policy that never ran waits.
  model::Timestamp firstDue(std::optional<model::Timestamp> last, model::Timestamp now) const;
  // The next `count` pass times from `now` on, the first as firstDue(last, now): what
  // `bulkwarden schedule` prints and what the scheduler follows.
  std::vector<model::Timestamp> upcoming(std::optional<model::Timestamp> last, model::Timestamp now,
                                         size_t count) const;
  // `every 5m` or `cron "0 2 * * 1-5" Europe/Paris, starting-deadline 1h`.
  std::string describe() const;
};

// A weekly span of local time: `{ days: mon-fri, from: "08:00", to: "18:00" }`. `to` <= `from`
// spans midnight (the days name the day the window opens).
struct Window {
  std::bitset<7> days;  // bit 0 = Sunday
  int from = 0;         // minutes after local midnight
  int to = 0;
  SourceLocation where;
  bool contains(int dow, int minuteOfDay) const;
};

// When a policy may act: inside an `allow` window (any time when there is none) and inside no
// `deny` window, in `zone`. Outside, its matches are recorded and held back.
struct Windows {
  std::vector<Window> allow;
  std::vector<Window> deny;
  std::shared_ptr<const TimeZone> zone;
  bool empty() const { return allow.empty() && deny.empty(); }
  bool open(model::Timestamp t) const;
  // The first minute at or after `t` (and before `limit`) at which the policy may act; nullopt
  // when the windows stay closed until `limit`.
  std::optional<model::Timestamp> nextOpen(model::Timestamp t, model::Timestamp limit) const;
};

// `limits: { max-actions: N, max-percent: P, on-limit: hold | cap }`: over either in one pass,
// `hold` (the default) acts on nothing; `cap` acts on the oldest jobs (by createdDate) up to the
// smaller limit and defers the rest to later passes.
struct Limits {
  enum class OnLimit { Hold, Cap };
  std::optional<int64_t> maxActions;
  std::optional<double> maxPercent;  // of the jobs of the policy's resource listed in the pass
  OnLimit onLimit = OnLimit::Hold;
};

// `exempt: [ {job | createdById | object, until, reason} ]`.
struct Exemption {
  enum class By { Job, CreatedById, Object };
  By by = By::Job;
  std::string value;
  std::optional<model::Timestamp> until;  // expires at; none: for good
  std::string reason;
  SourceLocation where;
  bool covers(const model::Job& job, model::Timestamp now) const;
};

struct Policy {
  std::string name;
  std::string description;
  model::ResourceKind resource = model::ResourceKind::Query;
  std::vector<std::string> orgs;  // empty: every org
  Mode mode = Mode::DryRun;       // nothing acts unless asked
  Schedule schedule;
  Filter filter;  // Kind::All over the `filters:` list
  Action action = Action::Report;
  Windows windows;
  Limits limits;
  std::vector<Exemption> exempt;
  // `notify: [name, ...]`: the config's notifications that get this policy's digest each pass.
  std::vector<std::string> notify;
  std::vector<SourceLocation> notifyWhere;  // where each name of `notify` was written
  SourceLocation where;                     // the `- name:` entry
  // `job-types: [V2Query, Classic]` (query-jobs) or `[V2Ingest, Classic]` (ingest-jobs): which
  // jobs of the resource the policy governs. Default: the 2.0 type only.
  bool v2Jobs = true;
  bool classicJobs = false;
  SourceLocation jobTypesWhere;  // where `job-types` was written (line 0: not written)

  // The policy's resource and one of its job types.
  bool governs(const model::Job& job) const {
    return job.kind == resource && (job.isClassic() ? classicJobs : v2Jobs);
  }

  // The exemption that holds `job` back at `now`, if any.
  const Exemption* exemptionFor(const model::Job& job, model::Timestamp now) const;

  bool appliesTo(std::string_view org) const;
};

}  // namespace bulkwarden::policy
