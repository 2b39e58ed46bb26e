// The one Catch2 main of the test suite (compiled once; see tests/CMakeLists.txt).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include "exo/openssl_exit.h"

namespace {

// Before any test uses OpenSSL (exo/openssl_exit.h): without it, a gRPC thread that outlived
// OpenSSL's exit handler leaked its error state, about one run in a hundred under the sanitizers.
[[maybe_unused]] const bool kOpenSslKept = (exo::KeepOpenSslUntilExit(), true);

}  // namespace
