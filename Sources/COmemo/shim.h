// libomemo-c (Debian libomemo-c-dev): the maintained fork of libsignal-protocol-c, speaking
// both OMEMO versions. Its headers include each other by bare name: pkg-config's -I points
// into /usr/include/omemo.
#include <signal_protocol.h>
#include <curve.h>
#include <hkdf.h>
#include <key_helper.h>
#include <session_builder.h>
#include <session_cipher.h>
#include <protocol.h>
#include <ratchet.h>
#include <session_pre_key.h>

// Swift cannot import the SIGNAL_UNREF macro.
static inline void dt_signal_unref(void *instance) {
    if (instance) signal_type_unref((signal_type_base *)instance);
}
