// Internal: a Boost.JSON parser that no input can border on.
#ifndef TETHER_LIB_JSON_PARSER_HPP
#define TETHER_LIB_JSON_PARSER_HPP

#include <boost/json/parser.hpp>

namespace tether::detail {

/// Boost.JSON before 1.82 marks a suspended parse with the parser's own address
/// (boostorg/json#814): an input that ends exactly where the parser object begins looks
/// unfinished, and a complete message fails as "incomplete JSON". Allocators that keep no header
/// between chunks (TSan's, jemalloc, tcmalloc) do place a message's buffer right before a
/// parser's: under TSan one message in about 200,000 was lost that way. The byte in front
/// belongs to this object, so no other object can end where the parser begins.
struct json_parser {
    unsigned char guard = 0;
    boost::json::parser parser;
};

}  // namespace tether::detail

#endif
