// Bridges libphonenumber to C. Every function catches nothing and allocates only what
// libphonenumber does; results are copied into caller-owned buffers.
#include "CPhoneNumbers.h"

#include <cstring>
#include <string>

#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumbermatch.h>
#include <phonenumbers/phonenumbermatcher.h>
#include <phonenumbers/phonenumberutil.h>
#include <phonenumbers/shortnumberinfo.h>

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberMatch;
using i18n::phonenumbers::PhoneNumberMatcher;
using i18n::phonenumbers::PhoneNumberUtil;
using i18n::phonenumbers::ShortNumberInfo;

namespace {

bool copy_out(const std::string &value, char *out, size_t out_size) {
    if (value.size() + 1 > out_size) return false;
    std::memcpy(out, value.c_str(), value.size() + 1);
    return true;
}

dt_phone_status status_for(PhoneNumberUtil::ErrorType error) {
    switch (error) {
    case PhoneNumberUtil::NO_PARSING_ERROR: return DT_PHONE_OK;
    case PhoneNumberUtil::INVALID_COUNTRY_CODE_ERROR: return DT_PHONE_INVALID_COUNTRY_CODE;
    case PhoneNumberUtil::NOT_A_NUMBER: return DT_PHONE_NOT_A_NUMBER;
    case PhoneNumberUtil::TOO_SHORT_AFTER_IDD: return DT_PHONE_TOO_SHORT_AFTER_IDD;
    case PhoneNumberUtil::TOO_SHORT_NSN: return DT_PHONE_TOO_SHORT;
    case PhoneNumberUtil::TOO_LONG_NSN: return DT_PHONE_TOO_LONG;
    }
    return DT_PHONE_NOT_A_NUMBER;
}

}  // namespace

extern "C" dt_phone_status dt_phone_parse(const char *text, const char *region, char *e164, size_t e164_size,
                                          int *possible, int *valid) {
    const PhoneNumberUtil &util = *PhoneNumberUtil::GetInstance();
    PhoneNumber number;
    PhoneNumberUtil::ErrorType error = util.Parse(text, region ? region : "ZZ", &number);
    if (error != PhoneNumberUtil::NO_PARSING_ERROR) return status_for(error);
    std::string formatted;
    util.Format(number, PhoneNumberUtil::E164, &formatted);
    if (!copy_out(formatted, e164, e164_size)) return DT_PHONE_BUFFER_TOO_SMALL;
    if (possible) *possible = util.IsPossibleNumber(number) ? 1 : 0;
    if (valid) *valid = util.IsValidNumber(number) ? 1 : 0;
    return DT_PHONE_OK;
}

extern "C" dt_phone_status dt_phone_format(const char *e164, dt_phone_style format, const char *viewer_region,
                                           char *out, size_t out_size) {
    const PhoneNumberUtil &util = *PhoneNumberUtil::GetInstance();
    PhoneNumber number;
    PhoneNumberUtil::ErrorType error = util.Parse(e164, "ZZ", &number);
    if (error != PhoneNumberUtil::NO_PARSING_ERROR) return status_for(error);
    std::string formatted;
    switch (format) {
    case DT_PHONE_FORMAT_E164: util.Format(number, PhoneNumberUtil::E164, &formatted); break;
    case DT_PHONE_FORMAT_INTERNATIONAL: util.Format(number, PhoneNumberUtil::INTERNATIONAL, &formatted); break;
    case DT_PHONE_FORMAT_NATIONAL: {
        std::string own_region;
        util.GetRegionCodeForNumber(number, &own_region);
        // An unassigned number (555) has no region; its country code still says whether it
        // is a domestic number to the viewer.
        bool same = viewer_region && (own_region == viewer_region ||
                                      (own_region == "ZZ" && number.country_code() == util.GetCountryCodeForRegion(viewer_region)));
        util.Format(number, same ? PhoneNumberUtil::NATIONAL : PhoneNumberUtil::INTERNATIONAL, &formatted);
        break;
    }
    }
    return copy_out(formatted, out, out_size) ? DT_PHONE_OK : DT_PHONE_BUFFER_TOO_SMALL;
}

extern "C" int dt_phone_is_possible_short_number(const char *text, const char *region) {
    const PhoneNumberUtil &util = *PhoneNumberUtil::GetInstance();
    PhoneNumber number;
    if (util.Parse(text, region ? region : "ZZ", &number) != PhoneNumberUtil::NO_PARSING_ERROR) return 0;
    ShortNumberInfo info;
    return info.IsPossibleShortNumberForRegion(number, region ? region : "ZZ") ? 1 : 0;
}

extern "C" void dt_phone_region(const char *e164, char *out, size_t out_size) {
    const PhoneNumberUtil &util = *PhoneNumberUtil::GetInstance();
    PhoneNumber number;
    std::string region = "ZZ";
    if (util.Parse(e164, "ZZ", &number) == PhoneNumberUtil::NO_PARSING_ERROR) util.GetRegionCodeForNumber(number, &region);
    if (!copy_out(region, out, out_size) && out_size > 0) out[0] = 0;
}

extern "C" int dt_phone_find(const char *text, const char *region, dt_phone_match *matches, int max) {
    const PhoneNumberUtil &util = *PhoneNumberUtil::GetInstance();
    // POSSIBLE, not VALID: fiction and tests use unassigned ranges such as 555.
    PhoneNumberMatcher matcher(util, text, region ? region : "ZZ", PhoneNumberMatcher::POSSIBLE, 1000);
    int count = 0;
    PhoneNumberMatch match;
    while (count < max && matcher.HasNext()) {
        if (!matcher.Next(&match)) break;
        std::string formatted;
        util.Format(match.number(), PhoneNumberUtil::E164, &formatted);
        if (formatted.size() + 1 > sizeof(matches[count].e164)) continue;
        matches[count].start = static_cast<size_t>(match.start());
        matches[count].end = static_cast<size_t>(match.start() + match.length());
        std::memcpy(matches[count].e164, formatted.c_str(), formatted.size() + 1);
        count++;
    }
    return count;
}
