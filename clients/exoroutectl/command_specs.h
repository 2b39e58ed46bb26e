// What each exoroutectl command takes — how many words after its name, and which flags — so
// that a word or a flag the command does not take is refused before anything runs, naming it.
// (Until 2026-12-06 a flag of another command was ignored: `plan cancel --all --venue V`
// cancelled every plan, not V's; `replay ID` replayed the whole chain.)
#pragma once

#include <set>
#include <string>

#include "absl/status/status.h"
#include "clients/exoroutectl/args.h"

namespace exo::ctl {

// The flags that take no value (`--execute`), and those that take one (`--qty 1.5`), over
// every command: what Args::Parse knows.
const std::set<std::string>& BooleanFlags();
const std::set<std::string>& ValueFlags();
// The value flags that are comma-separated lists (`--allow`, `--deny`): given more than once,
// they add up.
const std::set<std::string>& ListFlags();

// OK, or InvalidArgument naming the word or the flag that `args`' command does not take, and
// what it does take. A command not in the table (a typo) is left to the dispatch, which names
// it unknown; so is a missing word, which each command names itself ("expected a plan id").
absl::Status CheckCommandLine(const Args& args);

}  // namespace exo::ctl
