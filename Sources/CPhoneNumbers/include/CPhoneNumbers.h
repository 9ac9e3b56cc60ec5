// A small C face on libphonenumber (C++), so Swift can use it without C++ interop.
#ifndef DIALTONE_CPHONENUMBERS_H
#define DIALTONE_CPHONENUMBERS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    DT_PHONE_OK = 0,
    DT_PHONE_INVALID_COUNTRY_CODE = 1,
    DT_PHONE_NOT_A_NUMBER = 2,
    DT_PHONE_TOO_SHORT_AFTER_IDD = 3,
    DT_PHONE_TOO_SHORT = 4,
    DT_PHONE_TOO_LONG = 5,
    DT_PHONE_BUFFER_TOO_SMALL = 6,
} dt_phone_status;

typedef enum {
    DT_PHONE_FORMAT_E164 = 0,
    DT_PHONE_FORMAT_INTERNATIONAL = 1,
    DT_PHONE_FORMAT_NATIONAL = 2,
} dt_phone_style;

typedef struct {
    /// Byte offsets of the match in the UTF-8 text.
    size_t start;
    size_t end;
    char e164[32];
} dt_phone_match;

/// Parses `text` (any common written form) with `region` (ISO 3166 alpha-2, e.g. "US") as the
/// default for numbers without a country code; writes E.164 into `e164`.
/// `possible` and `valid` receive libphonenumber's verdicts (1 or 0).
dt_phone_status dt_phone_parse(const char *text, const char *region, char *e164, size_t e164_size,
                               int *possible, int *valid);

/// Formats an E.164 number; national format is used only when `viewer_region` is the number's own.
dt_phone_status dt_phone_format(const char *e164, dt_phone_style format, const char *viewer_region,
                                char *out, size_t out_size);

/// 1 when `text` is a possible short code (e.g. "12345") in `region`.
int dt_phone_is_possible_short_number(const char *text, const char *region);

/// The region of an E.164 number ("US", "GB"), or "ZZ" when unknown.
void dt_phone_region(const char *e164, char *out, size_t out_size);

/// Finds phone numbers written in running text; returns how many were stored (at most `max`).
int dt_phone_find(const char *text, const char *region, dt_phone_match *matches, int max);

#ifdef __cplusplus
}
#endif

#endif
