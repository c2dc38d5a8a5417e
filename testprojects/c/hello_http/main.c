/* hello_http: a minimal HTTP server for the unikernel C example.
 *
 * Listens on port 8080 (or argv[1]), answers every request with 200 and a short body, and
 * prints one readiness line with the guest's CLOCK_MONOTONIC in milliseconds, which the
 * benchmark reads as "virtual time to ready". */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "response.h"

static double monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) { perror("socket"); return 1; }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); return 1; }
    if (listen(fd, 16) < 0) { perror("listen"); return 1; }
    printf("hello_http: READY port=%d monotonic_ms=%.3f\n", port, monotonic_ms());
    fflush(stdout);

    for (;;) {
        int c = accept(fd, NULL, NULL);
        if (c < 0) continue;
        char req[2048];
        ssize_t n = read(c, req, sizeof req - 1);
        if (n > 0) {
            req[n] = 0;
            char resp[512];
            int len = hello_response(req, resp, sizeof resp);
            if (len > 0) (void)!write(c, resp, (size_t)len);
        }
        close(c);
    }
}
