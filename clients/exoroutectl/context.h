// What every exoroutectl command works with: the parsed flags, the connection to the node
// (made on first use, with the CLI's deadline on every call), the exit codes, and the fetches
// and outputs several commands share. One process runs one command: nothing here is shared
// between threads.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clients/cpp/exoroute_client.h"
#include "clients/exoroutectl/args.h"
#include "exoroute/v1/admin.grpc.pb.h"
#include "exoroute/v1/router.grpc.pb.h"
#include "google/protobuf/message.h"
#include "grpcpp/grpcpp.h"
#include "store/delta_store.h"

namespace exo::ctl {

inline constexpr int kExitOk = 0, kExitError = 1, kExitUsage = 2, kExitBadChain = 3;

struct Context {
  Args args;
  bool json = false;
  client::ConnectOptions conn;
  std::chrono::milliseconds timeout{5000};
  absl::Duration reconnect_for = absl::Minutes(5);  // --reconnect-for: FollowAgain's patience.
  std::shared_ptr<grpc::Channel> channel;  // Connected by EnsureConnected.
};

// Prints `exoroutectl: CODE: message` to stderr; returns kExitError.
int Fail(const absl::Status& s);
// Prints the usage error and where to read more; returns kExitUsage.
int Usage(const std::string& why);
// A call's context: the CLI's deadline unless `streaming`.
std::unique_ptr<grpc::ClientContext> Rpc(const Context& c, bool streaming = false);
// Connects to the node once (the channel is then kept in `c`).
absl::Status EnsureConnected(Context& c);

// One unary call of a service's Stub on the node (connecting first), with the CLI's deadline.
template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> Unary(Context& c,
                               grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                               const Request& req) {
  if (auto s = EnsureConnected(c); !s.ok()) return s;
  Stub stub(c.channel);
  Response resp;
  auto ctx = Rpc(c);
  if (grpc::Status st = (stub.*method)(ctx.get(), req, &resp); !st.ok()) return client::FromGrpc(st);
  return resp;
}

// A stream that follows something on the node (watch, route-status --follow, replay --follow,
// audit verify --follow) outlives the node going away — a restart, a lost connection: it says so
// once on stderr and follows again as soon as the node answers, for up to Context::reconnect_for
// (0: not at all). `doing` names what it does ("watching plan-1"), in "<doing> again".
class FollowAgain {
 public:
  FollowAgain(Context& c, std::string doing, std::string note = "") : c_(c), doing_(std::move(doing)), note_(std::move(note)) {}
  // Whether `*ended`, how a stream that the node answered ended, is the node going away
  // (UNAVAILABLE, or CANCELLED when its shutdown's deadline ended the stream; this client never
  // cancels its own) and the node answers again within reconnect_for of when it went: then
  // follow again. When the node stays away, `*ended` becomes what the node last said as it went
  // (UNAVAILABLE, naming where to follow again from), not a bare CANCELLED from a stream opened
  // again just as it shut down once more.
  // `check`: `*ended` is how a call the follower made of a node that had answered again ended
  // (its check that the node still holds the chain followed), not a stream's end. Such a call's
  // UNAVAILABLE (refused, or a node draining) is kept as what to report only when the node said
  // nothing before it: it never replaces the node's word of where to follow again from.
  bool After(absl::Status* ended, bool check = false);
  // Whether a status is the node going away: UNAVAILABLE, or CANCELLED when its shutdown cut the
  // stream or the call.
  static bool WentAway(const absl::Status& s) { return absl::IsUnavailable(s) || absl::IsCancelled(s); }
  // The stream is open again: says it follows again (with `from`, e.g. " from sequence 12"),
  // once for each time the node went away. A stream that sends nothing until something happens
  // (a follow of the chain) says so as soon as it is open.
  void Back(const std::string& from = "");
  // The stream answered: Back, and the node is back for good (a stream open again but refused
  // at once, by a node still draining, is no answer: the wait goes on, and ends in time).
  void Answered(const std::string& from = "");

 private:
  Context& c_;
  std::string doing_, note_;
  std::optional<absl::Time> until_;    // Set while the node is away,
  std::optional<absl::Time> back_at_;  // and when a stream was last open again,
  bool said_back_ = false;             // and whether that was said.
  std::optional<absl::Status> said_away_;  // The node's last UNAVAILABLE while away.
};

absl::StatusOr<exoroute::v1::StatusResponse> FetchStatus(Context& c);
absl::StatusOr<exoroute::v1::Plan> FetchPlan(Context& c, const std::string& id);
// The plan as a table (or JSON with --json) on stdout; returns kExitOk.
int PrintPlan(const Context& c, const exoroute::v1::Plan& p);
// Offline: the data directory's database, opened read-only.
absl::StatusOr<std::unique_ptr<store::DeltaStore>> OpenOffline(const std::string& dir);
// `text` as the whole of the file at `path`, which the flag `flag` named: an error names the flag,
// the path and the system's reason (PermissionDenied only when it is one).
absl::Status WriteTextFile(const std::string& flag, const std::string& path, const std::string& text);
// With --out: `m` as JSON in that file (nothing without it).
absl::Status WriteJsonFile(const Context& c, const google::protobuf::Message& m);
// A positive decimal flag (--qty, --limit) in units of `scale` decimal places; the error names
// the flag ("--limit: must be > 0, got \"-5\"").
absl::StatusOr<int64_t> PositiveDecimalFlag(const Args& a, const std::string& flag, uint32_t scale);
// --urgency low|normal|high ("low" -> URGENCY_LOW, and so on); unspecified when not given.
absl::StatusOr<exoroute::v1::Urgency> UrgencyFlag(const Args& a);
// An order's --allow A,B, --deny C, --max-venues N, --urgency low|normal|high and
// --arrival-band-bps N (route and solve).
absl::Status SetOrderFlags(const Args& a, exoroute::v1::ParentOrder* o);

}  // namespace exo::ctl
