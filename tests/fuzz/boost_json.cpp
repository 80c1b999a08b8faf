// Boost.JSON compiled into the message-adapter fuzz target (instead of linking Debian's
// libboost_json), so that libFuzzer's coverage instrumentation reaches the parser.
#include <boost/json/src.hpp>
