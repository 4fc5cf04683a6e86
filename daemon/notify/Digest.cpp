#include "notify/Digest.h"

#include <fmt/format.h>

#include <algorithm>

namespace bulkwarden::notify {
namespace {

constexpr size_t kSlackJobs = 20;
constexpr size_t kFieldCap = 300;  // a reason or held-back text longer than this is cut

std::string capped(std::string_view text) {
  if (text.size() <= kFieldCap) return std::string(text);
  return std::string(text.substr(0, kFieldCap)) + "...";
}

// What an outcome means to a reader, by the policy's action.
std::string verb(const Digest& d, const std::string& outcome) {
  if (outcome == "applied") return d.action == "delete" ? "deleted" : "aborted";
  if (outcome == "recorded")
    return d.mode == "dry-run" && d.action != "report" ? "would " + d.action : "reported";
  if (outcome == "held") return "held back";
  if (outcome == "already-terminal") return "already finished";
  if (outcome == "not-found") return "gone";
  if (outcome == "not-started") return "not attempted";
  return outcome;
}

std::string countsLine(const Digest& d) {
  std::string out;
  for (const auto& [outcome, n] : d.outcomes) {
    out += fmt::format("{}{} {}", out.empty() ? "" : ", ", n, verb(d, outcome));
  }
  return out;
}

// Slack mrkdwn control characters (its documented escaping).
std::string mrkdwn(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '&') {
      out += "&amp;";
    } else if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else if (c == '`' || c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string oneLine(std::string_view text) {
  std::string out(text);
  std::replace_if(
      out.begin(), out.end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; }, ' ');
  return out;
}

}  // namespace

std::string jsonString(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::vector<Digest> buildDigests(const engine::PassSummary& summary,
                                 const std::vector<engine::Decision>& decisions,
                                 model::Timestamp now) {
  std::vector<Digest> out;
  std::map<const policy::Policy*, size_t> index;
  for (const auto& dec : decisions) {
    if (dec.policy == nullptr || dec.policy->notify.empty()) continue;
    auto [it, fresh] = index.try_emplace(dec.policy, out.size());
    if (fresh) {
      Digest d;
      d.policy = dec.policy->name;
      d.org = summary.org;
      d.resource = std::string(model::resourceName(summary.resource));
      d.run = summary.run;
      d.time = model::formatRfc3339(now);
      d.action = std::string(policy::toString(dec.policy->action));
      d.mode = std::string(policy::toString(dec.mode));
      out.push_back(std::move(d));
    }
    Digest& d = out[it->second];
    ++d.matched;
    std::string outcome(engine::toString(dec.outcome));
    ++d.outcomes[outcome];
    if (!dec.held.empty() && d.held.size() < kDigestJobs) ++d.held[capped(dec.held)];
    if (d.jobs.size() < kDigestJobs) {
      d.jobs.push_back(DigestJob{dec.job.id, dec.job.object,
                                 std::string(model::toString(dec.job.state)), outcome,
                                 capped(dec.held.empty() ? dec.reason : dec.held)});
    } else {
      ++d.jobsOmitted;
    }
  }
  return out;
}

std::string renderJson(const Digest& d) {
  std::string out = "{\"type\":\"bulkwarden.digest\",\"version\":1";
  out += ",\"policy\":" + jsonString(d.policy) + ",\"org\":" + jsonString(d.org) +
         ",\"resource\":" + jsonString(d.resource) + ",\"run\":" + jsonString(d.run) +
         ",\"time\":" + jsonString(d.time) + ",\"action\":" + jsonString(d.action) +
         ",\"mode\":" + jsonString(d.mode) + fmt::format(",\"matched\":{}", d.matched);
  out += ",\"outcomes\":{";
  bool first = true;
  for (const auto& [k, n] : d.outcomes) {
    out += fmt::format("{}{}:{}", first ? "" : ",", jsonString(k), n);
    first = false;
  }
  out += "},\"held\":[";
  first = true;
  for (const auto& [reason, n] : d.held) {
    out += fmt::format("{}{{\"reason\":{},\"count\":{}}}", first ? "" : ",", jsonString(reason), n);
    first = false;
  }
  out += "],\"jobs\":[";
  first = true;
  for (const auto& j : d.jobs) {
    out += fmt::format("{}{{\"id\":{},\"object\":{},\"state\":{},\"outcome\":{},\"why\":{}}}",
                       first ? "" : ",", jsonString(j.id), jsonString(j.object),
                       jsonString(j.state), jsonString(j.outcome), jsonString(j.why));
    first = false;
  }
  out += fmt::format("],\"jobs_omitted\":{}}}", d.jobsOmitted);
  return out;
}

std::string renderSlack(const Digest& d) {
  std::string text =
      fmt::format("*bulkwarden*: policy `{}` on org `{}` ({}, {}): {}\n", mrkdwn(d.policy),
                  mrkdwn(d.org), mrkdwn(d.action), mrkdwn(d.mode), mrkdwn(countsLine(d)));
  for (const auto& [reason, n] : d.held) {
    text += fmt::format("held back {}: {}\n", n, mrkdwn(reason));
  }
  size_t shown = std::min(d.jobs.size(), kSlackJobs);
  for (size_t i = 0; i < shown; ++i) {
    const auto& j = d.jobs[i];
    text += fmt::format("\u2022 `{}` {} {}: {} ({})\n", mrkdwn(j.id), mrkdwn(j.object),
                        mrkdwn(j.state), mrkdwn(verb(d, j.outcome)), mrkdwn(j.why));
  }
  int64_t more = d.jobsOmitted + static_cast<int64_t>(d.jobs.size() - shown);
  if (more > 0) text += fmt::format("and {} more\n", more);
  text += fmt::format("run `{}`", mrkdwn(d.run));
  return "{\"text\":" + jsonString(text) + "}";
}

std::string emailSubject(const Digest& d) {
  return oneLine(fmt::format("bulkwarden: {} on {}: {}", d.policy, d.org, countsLine(d)));
}

std::string emailBody(const Digest& d) {
  std::string body = fmt::format(
      "Policy:   {}\nOrg:      {}\nResource: {}\nAction:   {} ({})\nRun:      {}\nTime:     {}\n"
      "Matched:  {}\nOutcome:  {}\n",
      oneLine(d.policy), oneLine(d.org), d.resource, d.action, d.mode, oneLine(d.run), d.time,
      d.matched, countsLine(d));
  for (const auto& [reason, n] : d.held)
    body += fmt::format("Held back {}: {}\n", n, oneLine(reason));
  body += "\nJobs:\n";
  for (const auto& j : d.jobs) {
    body += fmt::format("  {} {} {}: {} ({})\n", oneLine(j.id), oneLine(j.object), oneLine(j.state),
                        verb(d, j.outcome), oneLine(j.why));
  }
  if (d.jobsOmitted > 0) body += fmt::format("  and {} more\n", d.jobsOmitted);
  body +=
      "\nThe audit trail has every record of this run: bulkwarden audit verify, grep the run id.\n";
  return body;
}

}  // namespace bulkwarden::notify
