#include "model/TestClock.h"

#ifdef BULKWARDEN_FAILPOINTS
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace bulkwarden::model {

namespace {

Timestamp systemNow() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

}  // namespace

ScaledClock::ScaledClock(double scale, Timestamp epoch)
    : scale_(scale),
      epoch_(epoch),
      wallAtStart_(systemNow()),
      steadyAtStart_(std::chrono::steady_clock::now()) {
  if (!(scale > 0)) throw std::invalid_argument("the clock scale must be positive");
}

Timestamp ScaledClock::now() const {
  const std::chrono::duration<double, std::milli> wall =
      (wallAtStart_ - epoch_) + (std::chrono::steady_clock::now() - steadyAtStart_);
  return epoch_ + Duration(static_cast<Duration::rep>(wall.count() * scale_));
}

bool ScaledClock::sleepUntil(Timestamp deadline, const StopSignal& stop) const {
  const auto left = deadline - now();
  if (left <= Duration::zero()) return stop.requested();
  return stop.waitUntil(std::chrono::steady_clock::now() + steadyFor(left));
}

std::chrono::steady_clock::duration ScaledClock::steadyFor(Duration d) const {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double, std::milli>(static_cast<double>(d.count()) / scale_));
}

std::shared_ptr<const Clock> testClockFromEnvironment() {
  const char* scaleText = std::getenv("BULKWARDEN_TEST_CLOCK_SCALE");
  if (scaleText == nullptr || *scaleText == '\0') return nullptr;
  std::size_t used = 0;
  double scale = 0;
  try {
    scale = std::stod(scaleText, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || scaleText[used] != '\0' || !(scale > 0) || scale > 1e6) {
    throw std::invalid_argument("BULKWARDEN_TEST_CLOCK_SCALE: want a number in (0, 1000000]");
  }
  Timestamp epoch = systemNow();
  if (const char* epochText = std::getenv("BULKWARDEN_TEST_CLOCK_EPOCH");
      epochText != nullptr && *epochText != '\0') {
    char* end = nullptr;
    const long long ms = std::strtoll(epochText, &end, 10);
    if (end == epochText || *end != '\0' || ms <= 0) {
      throw std::invalid_argument("BULKWARDEN_TEST_CLOCK_EPOCH: want milliseconds since 1970");
    }
    epoch = Timestamp(Duration(ms));
  }
  return std::make_shared<ScaledClock>(scale, epoch);
}

}  // namespace bulkwarden::model
#endif
