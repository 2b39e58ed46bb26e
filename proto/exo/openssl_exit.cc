#include "exo/openssl_exit.h"

#include <openssl/crypto.h>

namespace exo {

void KeepOpenSslUntilExit() { OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr); }

}  // namespace exo
