// OpenSSL kept until the process is gone: its exit-time cleanup turned off.
//
// OpenSSL frees its global state, and the keys of its per-thread state, in an atexit handler
// (OPENSSL_cleanup). gRPC does not join its threads before a process exits: one that ends after
// that handler has run leaks its per-thread error state (904 bytes, which LeakSanitizer reports:
// grpc/grpc#38539), and one that calls OpenSSL after it uses freed state. A process that calls
// KeepOpenSslUntilExit before anything else uses OpenSSL never runs that handler; the operating
// system takes the memory back at exit, as with every other global.
//
// Call it first in main (exorouted, exoroutectl) or from a static initialiser (the tests'
// main): once OpenSSL is initialised the option no longer applies.
#pragma once

namespace exo {

void KeepOpenSslUntilExit();

}  // namespace exo
