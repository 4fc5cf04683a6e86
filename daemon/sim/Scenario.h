// What the simulated org holds at start: single jobs (JobSeed) and groups of similar jobs
// (JobGroup), plus the CLI spec syntax for groups. Plain values; safe to copy between threads.
#pragma once

#include <chrono>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace bulkwarden::sim {

// One job to create. Durations are simulated time.
struct JobSeed {
  std::string id;                    // empty: generate a realistic 18-char id starting with 750
  std::string kind = "query";        // "query" | "ingest"
  std::string jobType;               // empty: V2Query / V2Ingest from kind; may be "Classic"
  std::string state = "InProgress";  // Open|UploadComplete|InProgress|JobComplete|Failed|Aborted
  std::string object = "Account";
  std::string operation;  // empty: "query" for query jobs, "insert" for ingest
  std::string createdById = "005R0000000GiwjIAC";
  std::chrono::milliseconds age{0};  // createdDate = simNow - age
  std::chrono::milliseconds modifiedAgo{
      -1};  // systemModstamp = simNow - modifiedAgo; <0: = createdDate
  // Sim time from now until an active job reaches its final state; unset = never moves by itself.
  // For an Open ingest job it counts from the moment the job is closed (PATCH UploadComplete).
  std::optional<std::chrono::milliseconds> finishAfter;
  // Sim time from now until an UploadComplete job starts (InProgress); unset: finishAfter / 2.
  std::optional<std::chrono::milliseconds> startAfter;
  std::string finalState = "JobComplete";  // where finishAfter leads: JobComplete | Failed
  bool finishesOnAbort = false;            // the list/abort race: completes when aborted
  // The next this-many aborts answer 400 INVALIDJOBSTATE while the job stays active (a refusal
  // that does not mean the job finished).
  int refusedAborts = 0;
  double apiVersion = 62.0;
  int64_t numberRecords = -1;  // records the job processes when complete; <0: random
};

// A closed range of durations; a value is drawn uniformly from it.
struct DurationRange {
  std::chrono::milliseconds min{0};
  std::chrono::milliseconds max{0};
};

// `count` jobs that share a kind and a state, with ages and lifecycles drawn from ranges.
struct JobGroup {
  std::string kind = "query";  // "query" | "ingest"
  std::string jobType;         // empty: V2Query / V2Ingest from kind
  std::string state = "InProgress";
  int count = 1;
  DurationRange age;                         // createdDate = now - age
  std::optional<DurationRange> modifiedAgo;  // unset: realistic (shortly after creation)
  std::optional<DurationRange> startAfter;
  std::optional<DurationRange> finishAfter;  // unset: the jobs never move by themselves
  std::string finalState = "JobComplete";
  std::string object;       // empty: a realistic mix of objects
  std::string operation;    // empty: a realistic mix for the kind
  std::string createdById;  // empty: a few users
  bool finishesOnAbort = false;
  int refusedAborts = 0;
  double apiVersion = 62.0;
};

struct Scenario {
  std::vector<JobGroup> groups;
  std::vector<JobSeed> jobs;
};

// `count` Bulk API 1.0 (Classic) jobs as Data Loader and ETL tools leave them: most Open for
// hours, some Closed (InProgress) or finished; a mix of users.
std::vector<JobGroup> classicJobs(int count);

// Thousands of query and ingest jobs in every state and age: stuck, moving, finished hours or
// days ago, ingest jobs left Open, a few Classic jobs and a few that finish when aborted.
Scenario defaultScenario();

// One job arriving while the org runs (`sim --new-jobs-every`), count 1 and age 0: stuck and
// finishing query and ingest jobs, Bulk API 1.0 (Classic) jobs left Open or never processed;
// created by `sessionUser` a third of the time, else by another user.
JobGroup arrivingJob(std::mt19937_64& rng, const std::string& sessionUser);

// The seeds of a group, drawn from `rng` (ids left empty for the org to assign).
std::vector<JobSeed> expandGroup(const JobGroup& group, std::mt19937_64& rng);

// Parses a duration such as 500ms, 30s, 45m, 2h, 7d. Throws std::invalid_argument.
std::chrono::milliseconds parseDuration(std::string_view text);
// Parses `KIND:STATE:COUNT[:OPTION]...`; see kJobSpecHelp. Throws std::invalid_argument.
JobGroup parseJobGroup(std::string_view spec);

inline constexpr std::string_view kJobSpecHelp =
    R"(Job spec: KIND:STATE:COUNT[:OPTION]...
  KIND   query | ingest
  STATE  Open (ingest or Classic) | UploadComplete | InProgress | JobComplete | Failed | Aborted
  COUNT  number of jobs (1..1000000)
  Options (durations: 500ms 30s 45m 2h 7d; RANGE is DUR or DUR-DUR, drawn uniformly):
    age=RANGE          createdDate = now - age                    (default 0)
    modified=RANGE     systemModstamp = now - modified            (default: shortly after creation)
    start=RANGE        UploadComplete -> InProgress after this    (default: finish / 2)
    finish=RANGE       active job reaches its final state after this (default: never, i.e. stuck)
    final=STATE        JobComplete | Failed                       (default JobComplete)
    type=JOBTYPE       V2Query | V2Ingest | Classic | BigObjectIngest
    object=NAME  operation=OP  creator=USERID  api=62.0
    race               the job completes at the moment an abort arrives (abort gets 400)
    refuse-abort=K     the first K aborts get 400 INVALIDJOBSTATE; the job stays active
  Examples: query:InProgress:1000:age=2h-5h   ingest:Open:20:age=13h
            query:InProgress:50:age=1m-10m:finish=5m-20m   query:JobComplete:5:type=Classic)";

}  // namespace bulkwarden::sim
