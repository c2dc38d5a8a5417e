#include "response.h"

#include <stdio.h>
#include <string.h>

int hello_response(const char *req, char *out, size_t size) {
    const char *body = "Hello from a unikernel!\n";
    if (strncmp(req, "GET / ", 6) != 0 && strncmp(req, "GET /?", 6) != 0) {
        body = "not found\n";
        return snprintf(out, size, "HTTP/1.0 404 Not Found\r\nContent-Length: %zu\r\n\r\n%s", strlen(body), body);
    }
    return snprintf(out, size,
                    "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s",
                    strlen(body), body);
}
