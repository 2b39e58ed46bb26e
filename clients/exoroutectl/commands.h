// exoroutectl's commands, one function each: Main (main.cc) picks one by the first word and
// hands it the context; each returns the process's exit code. `exoroutectl --help` and
// docs/api.md describe them.
#pragma once

#include "clients/exoroutectl/context.h"

namespace exo::ctl {

// The node (node_commands.cc).
int CmdStatus(Context& c);
int CmdBudgets(Context& c);
int CmdBooks(Context& c);
int CmdSetTrading(Context& c, bool halt);  // halt / resume
int CmdContracts(Context& c);
int CmdBackup(Context& c);
int CmdConfig(Context& c);  // config show, config reload

// Orders (plan_commands.cc).
int CmdRoute(Context& c);
int CmdPlan(Context& c);  // plan list, show, cancel, amend, settle, books
int CmdWatch(Context& c);
int CmdRouteStatus(Context& c);

// The chain (audit_commands.cc).
int CmdReplay(Context& c);
int CmdReport(Context& c);
int CmdAudit(Context& c);

// What-if, offline (solve_command.cc).
int CmdSolve(Context& c);

}  // namespace exo::ctl
