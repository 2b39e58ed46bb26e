#include "clients/exoroutectl/context.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "daemon/request_validation.h"
#include "clients/exoroutectl/render.h"
#include "exo/clock.h"
#include "exo/fixed_point.h"

namespace exo::ctl {

using namespace exoroute::v1;  // NOLINT

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "exoroutectl: %s: %s\n", absl::StatusCodeToString(s.code()).c_str(),
               std::string(s.message()).c_str());
  return kExitError;
}

int Usage(const std::string& why) {
  std::fprintf(stderr, "exoroutectl: %s\n(see exoroutectl --help)\n", why.c_str());
  return kExitUsage;
}

std::unique_ptr<grpc::ClientContext> Rpc(const Context& c, bool streaming) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!streaming) ctx->set_deadline(std::chrono::system_clock::now() + c.timeout);
  return ctx;
}

absl::Status EnsureConnected(Context& c) {
  if (c.channel) return absl::OkStatus();
  auto ch = client::Connect(c.conn);
  if (!ch.ok()) return ch.status();
  c.channel = *ch;
  return absl::OkStatus();
}

bool FollowAgain::After(absl::Status* ended, bool check) {
  if (!WentAway(*ended)) return false;
  if (c_.reconnect_for <= absl::ZeroDuration()) return false;
  // A stream that was open again for a while before it ended (with nothing to send) had the
  // node back: this is the node going away once more, with a wait of its own.
  if (until_.has_value() && back_at_.has_value() && absl::Now() - *back_at_ > absl::Seconds(5)) {
    until_.reset();
    said_away_.reset();
  }
  if (absl::IsUnavailable(*ended) && (!check || !said_away_.has_value())) said_away_ = *ended;
  if (!until_.has_value()) {
    until_ = absl::Now() + c_.reconnect_for;
    said_back_ = false;
    // (A stream cut by the node's shutdown may carry no message: its code says it.)
    const std::string why(ended->message().empty() ? absl::StatusCodeToString(ended->code()) : ended->message());
    std::cerr << "exoroutectl: the node went away (" << why << "); " << doing_
              << " again as soon as it answers, for up to " << absl::FormatDuration(c_.reconnect_for) << note_
              << std::endl;
  }
  auto stays_away = [&] {
    if (said_away_.has_value()) *ended = *said_away_;
    return false;
  };
  // (A node still draining answers at once, UNAVAILABLE again: no busy loop. A channel that
  // failed to connect waits for a call or this to try again.)
  absl::SleepFor(absl::Milliseconds(100));
  while (!c_.channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(1))) {
    if (absl::Now() > *until_) return stays_away();
  }
  if (absl::Now() > *until_) return stays_away();  // (Refused at once, again and again, since.)
  back_at_ = absl::Now();
  return true;
}

void FollowAgain::Back(const std::string& from) {
  if (!until_.has_value() || said_back_) return;
  std::cerr << "exoroutectl: " << doing_ << " again" << from << std::endl;
  said_back_ = true;
}

void FollowAgain::Answered(const std::string& from) {
  Back(from);
  until_.reset();
  back_at_.reset();
  said_away_.reset();
}

absl::StatusOr<StatusResponse> FetchStatus(Context& c) {
  return Unary(c, &AdminService::Stub::Status, StatusRequest());
}

int PrintPlan(const Context& c, const Plan& p) {
  std::cout << (c.json ? ToJson(p) + "\n" : RenderPlan(p, SystemClock()->NowNs() / 1'000'000'000));
  return kExitOk;
}

absl::StatusOr<Plan> FetchPlan(Context& c, const std::string& id) {
  GetPlanRequest req;
  req.set_plan_id(id);
  absl::StatusOr<GetPlanResponse> resp = Unary(c, &RouterService::Stub::GetPlan, req);
  if (!resp.ok()) return resp.status();
  return resp->plan();
}

// Offline: the data directory's database, opened read-only.
absl::StatusOr<std::unique_ptr<store::DeltaStore>> OpenOffline(const std::string& dir) {
  store::StoreOptions o;
  o.path = std::filesystem::exists(dir + "/db/CURRENT") ? dir + "/db" : dir;
  o.read_only = true;
  o.create_if_missing = false;
  o.verify_tail_on_open = 0;  // `audit verify` reports problems itself.
  return store::OpenRocksDeltaStore(o);
}

absl::Status WriteTextFile(const std::string& flag, const std::string& path, const std::string& text) {
  auto failed = [&](const char* what) {
    const int err = errno;
    return absl::Status(err == EACCES || err == EPERM ? absl::StatusCode::kPermissionDenied
                                                      : absl::StatusCode::kFailedPrecondition,
                        absl::StrCat("--", flag, ": cannot ", what, " ", path, err != 0 ? ": " : "",
                                     err != 0 ? std::strerror(err) : ""));
  };
  errno = 0;
  std::ofstream out(path);
  if (!out) return failed("create");
  out << text;
  out.close();
  if (!out) return failed("write");
  return absl::OkStatus();
}

// With --out: `m` as JSON in that file.
absl::Status WriteJsonFile(const Context& c, const google::protobuf::Message& m) {
  if (!c.args.Has("out")) return absl::OkStatus();
  return WriteTextFile("out", c.args.Get("out"), ToJson(m) + "\n");
}

// --urgency low|normal|high ("low" -> URGENCY_LOW, and so on); unspecified when not given.
absl::StatusOr<Urgency> UrgencyFlag(const Args& a) {
  Urgency u = URGENCY_UNSPECIFIED;
  if (!a.Has("urgency")) return u;
  if (!Urgency_Parse(absl::StrCat("URGENCY_", absl::AsciiStrToUpper(a.Get("urgency"))), &u) ||
      u == URGENCY_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat("--urgency must be low, normal or high, got \"", a.Get("urgency"), "\""));
  }
  return u;
}

absl::StatusOr<int64_t> PositiveDecimalFlag(const Args& a, const std::string& flag, uint32_t scale) {
  absl::StatusOr<int64_t> v = ParseDecimal(a.Get(flag), scale);
  if (!v.ok()) return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", v.status().message()));
  if (*v <= 0) return absl::InvalidArgumentError(absl::StrCat("--", flag, ": must be > 0, got \"", a.Get(flag), "\""));
  return v;
}

// An order's --allow A,B, --deny C, --max-venues N, --urgency low|normal|high and
// --arrival-band-bps N (route and solve).
absl::Status SetOrderFlags(const Args& a, ParentOrder* o) {
  for (const auto& v : absl::StrSplit(a.Get("allow"), ',', absl::SkipEmpty())) o->add_allowed_venues(std::string(v));
  for (const auto& v : absl::StrSplit(a.Get("deny"), ',', absl::SkipEmpty())) o->add_denied_venues(std::string(v));
  auto max_venues = a.GetUint("max-venues", 0);
  if (!max_venues.ok()) return max_venues.status();
  o->set_max_venues(static_cast<uint32_t>(*max_venues));
  absl::StatusOr<Urgency> urgency = UrgencyFlag(a);
  if (!urgency.ok()) return urgency.status();
  if (*urgency != URGENCY_UNSPECIFIED) o->set_urgency(*urgency);
  auto arrival = a.GetUint("arrival-band-bps", 0);
  if (!arrival.ok()) return arrival.status();
  if (*arrival > daemon::kMaxArrivalBandBps) {
    return absl::InvalidArgumentError(
        absl::StrCat("--arrival-band-bps must be <= ", daemon::kMaxArrivalBandBps, ", got ", *arrival));
  }
  o->set_arrival_band_bps(static_cast<uint32_t>(*arrival));
  return absl::OkStatus();
}

}  // namespace exo::ctl
