/*
 * serve_sys.c - what `nerd serve` asks of the operating system apart from sockets: telling
 * systemd it is ready (the sd_notify protocol, written by hand so that nerd needs no libsystemd)
 * and giving up root after binding.
 */
#include "serve.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

void serve_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (path == NULL || path[0] == '\0')
        return;
    /* systemd's socket is a filesystem path, or an abstract one written with a leading '@'. */
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    size_t len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof addr.sun_path) {
        log_ratelimited(LOG_LEVEL_WARN, "notify", "NOTIFY_SOCKET '%s' is not a unix socket path",
                        path);
        return;
    }
    memcpy(addr.sun_path, path, len);
    if (path[0] == '@')
        addr.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_ratelimited(LOG_LEVEL_WARN, "notify", "cannot notify systemd: %s", strerror(errno));
        return;
    }
    socklen_t addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr, addrlen) < 0)
        log_ratelimited(LOG_LEVEL_WARN, "notify", "cannot notify systemd at %s: %s", path,
                        strerror(errno));
    else
        log_debug("notified %s: %s", path, state);
    close(fd);
}

static int serve_allow_root_env(void)
{
    const char *env = getenv("NERD_ALLOW_ROOT");
    return env != NULL && strcmp(env, "1") == 0;
}

int serve_check_user(const char *user, int allow_root, char *err, size_t errlen)
{
    if (geteuid() == 0) {
        if (user == NULL && !allow_root && !serve_allow_root_env()) {
            snprintf(err, errlen, "refusing to run as root: give --user NAME to switch to an "
                     "unprivileged user after binding, or --allow-root");
            return -1;
        }
        if (user != NULL && getpwnam(user) == NULL) {
            snprintf(err, errlen, "--user: no user named '%s'", user);
            return -1;
        }
        return 0;
    }
    if (user != NULL) {
        struct passwd *pw = getpwnam(user);
        if (pw == NULL || pw->pw_uid != geteuid()) {
            snprintf(err, errlen, "--user %s: only root can switch users", user);
            return -1;
        }
    }
    return 0;
}

int serve_drop_privileges(const char *user, char *err, size_t errlen)
{
    if (user == NULL || geteuid() != 0)
        return 0;
    struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        snprintf(err, errlen, "--user: no user named '%s'", user);
        return -1;
    }
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    /* Supplementary groups first (root's would otherwise stay), then the group, then the user:
     * after setuid we could no longer change the others. */
    if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
        snprintf(err, errlen, "cannot switch to user %s: %s", user, strerror(errno));
        return -1;
    }
    if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
        snprintf(err, errlen, "switched to user %s but root could be regained", user);
        return -1;
    }
    log_info("running as user %s (uid %ld, gid %ld)", user, (long)uid, (long)gid);
    return 0;
}
