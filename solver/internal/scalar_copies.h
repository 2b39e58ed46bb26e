// EXO_SCALAR_COPIES: keeps GCC from pairing 8-byte fields into 16-byte loads in a function.
//
// A small struct written field by field (a Response, a Child: returned through memory when the
// callee is not inlined) and then read back: GCC's SLP vectorizer reads two adjacent 8-byte
// fields with one 16-byte load, which the CPU cannot forward from the two 8-byte stores that
// wrote them, and waits for them to reach the cache — a store-forwarding stall per venue. In
// `perf annotate` of the 16-venue decision it was over half of VenueGroup::Evaluate's cycles and
// a tenth of SolveInto's (docs/BENCHMARKS.md). Only the pairing is turned off, only where this
// is applied: the arithmetic, its order and so every bit of a decision are unchanged.
#pragma once

#if defined(__GNUC__) && !defined(__clang__)
#define EXO_SCALAR_COPIES [[gnu::optimize("no-tree-slp-vectorize")]]
#else
#define EXO_SCALAR_COPIES
#endif
