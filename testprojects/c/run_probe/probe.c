/*
 * run_probe: a tiny C program for the `pants run` integration tests
 * (tests/run_integration_test.py). The first argument picks what it does:
 *
 *   print N STATUS   N lines on stdout and stderr (the last one without a newline),
 *                    then exit with STATUS: byte-for-byte console checks
 *   connect IP PORT  TCP connect to IP:PORT; prints "connected" (exit 0) or
 *                    "failed: <errno text>" (exit 1): network isolation checks
 *   count FILE       appends a line to FILE and prints how many it now has: volumes
 *   args ...         prints each argument on its own line
 *   hang             prints nothing and never exits: timeouts and Ctrl-C
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int print_lines(int n, int status)
{
    for (int i = 0; i < n; i++) {
        printf("out %d: the quick brown fox jumps over the lazy dog\n", i);
        fprintf(stderr, "err %d: pack my box with five dozen liquor jugs\n", i);
    }
    printf("stdout end, no newline");
    fprintf(stderr, "stderr end, no newline");
    fflush(stdout);
    return status;
}

static int connect_to(const char *ip, const char *port)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)atoi(port));
    if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
        printf("failed: bad address %s\n", ip);
        return 2;
    }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {5, 0};
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) != 0) {
        printf("failed: %s\n", strerror(errno));
        return 1;
    }
    char buf[64] = "";
    ssize_t n = read(s, buf, sizeof buf - 1);
    printf("connected: %s\n", n > 0 ? buf : "");
    return 0;
}

static int count(const char *path)
{
    FILE *f = fopen(path, "a+");
    if (!f) {
        printf("failed: %s: %s\n", path, strerror(errno));
        return 1;
    }
    fputs("boot\n", f);
    fflush(f);
    rewind(f);
    int lines = 0, c;
    while ((c = fgetc(f)) != EOF)
        lines += c == '\n';
    fclose(f);
    printf("count=%d\n", lines);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "print";
    if (strcmp(mode, "print") == 0)
        return print_lines(argc > 2 ? atoi(argv[2]) : 3, argc > 3 ? atoi(argv[3]) : 0);
    if (strcmp(mode, "connect") == 0 && argc > 3)
        return connect_to(argv[2], argv[3]);
    if (strcmp(mode, "count") == 0 && argc > 2)
        return count(argv[2]);
    if (strcmp(mode, "args") == 0) {
        for (int i = 2; i < argc; i++)
            printf("%s\n", argv[i]);
        return 0;
    }
    if (strcmp(mode, "hang") == 0) {
        for (;;)
            pause();
    }
    fprintf(stderr, "usage: probe print [N [STATUS]] | connect IP PORT | count FILE | args ... | hang\n");
    return 2;
}
