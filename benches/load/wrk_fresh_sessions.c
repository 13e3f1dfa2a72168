/* LD_PRELOAD shim for wrk: a full TLS handshake on every connection.
 *
 * wrk keeps one SSL object per connection slot and, on reconnecting, calls
 * SSL_clear() and SSL_connect() on it again. SSL_clear() keeps the last
 * session, so OpenSSL offers it (a TLS 1.3 PSK from the server's ticket, or
 * a TLS 1.2 session id or ticket) and a server that remembers it resumes:
 * no certificate, no signature. This wraps SSL_clear() to drop the session
 * as well, so the client never offers one, whatever the server allows.
 * benches/load/tls.py builds it at run time:
 *   cc -shared -fPIC -O2 -o wrk_fresh_sessions.so wrk_fresh_sessions.c -ldl
 * and runs LD_PRELOAD=.../wrk_fresh_sessions.so wrk ...
 * No OpenSSL headers needed: SSL is opaque here. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

typedef struct ssl_st SSL;
typedef struct ssl_session_st SSL_SESSION;

int SSL_clear(SSL *s)
{
    static int (*real_clear)(SSL *);
    static int (*set_session)(SSL *, SSL_SESSION *);
    if (!real_clear) {
        real_clear = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_clear");
        set_session = (int (*)(SSL *, SSL_SESSION *))dlsym(RTLD_NEXT, "SSL_set_session");
    }
    int r = real_clear(s);
    set_session(s, NULL);
    return r;
}
