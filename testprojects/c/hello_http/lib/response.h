#ifndef HELLO_RESPONSE_H
#define HELLO_RESPONSE_H
#include <stddef.h>
/* Render the HTTP response for the raw request `req` into `out`; returns its length. */
int hello_response(const char *req, char *out, size_t size);
#endif
