#ifndef DIALTONE_CPROCESS_H
#define DIALTONE_CPROCESS_H

/// Marks the process not dumpable (no core file, no ptrace attach by other processes of the
/// user); prctl is variadic, so Swift cannot call it directly. Returns 0 or -1 (errno set).
int dialtone_set_not_dumpable(void);

/// 1 when the process is dumpable, 0 when not, -1 on error.
int dialtone_is_dumpable(void);

/// Initialises OpenSSL without its exit-time clean-up: at exit, libcrypto's atexit handler
/// freed locks that TLS work still running on other threads then used (a rare SIGSEGV in
/// pthread_rwlock_unlock as `dialtone send` exited). Must run before any other OpenSSL call.
/// Returns 1 on success.
int dialtone_init_openssl_without_atexit(void);

#endif
