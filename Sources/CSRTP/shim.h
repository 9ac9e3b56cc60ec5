// libsrtp2 (Debian's libsrtp2-dev): SRTP and SRTCP for DialtoneMedia's SRTPContext.
#include <srtp2/srtp.h>
