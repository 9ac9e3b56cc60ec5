// Debian builds libxml2 with ICU; its unicode/*.h clash with the ICU inside Foundation,
// so ICU support is switched off before the other headers see it.
#include <libxml/xmlversion.h>
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/SAX2.h>
#include <libxml/xmlerror.h>
