// Internal: a JSON object's top-level members found without parsing it. Acknowledgements and
// positions are read from every inbound message on the link's strand, before the application's
// JSON layer parses anything: a scan that skips nested values costs a pass over the bytes and
// allocates nothing. It checks structure only (strings, nesting, separators), not every detail of
// JSON; the JSON layer still judges the message.
#ifndef TETHER_LIB_RESUME_JSON_FIELDS_HPP
#define TETHER_LIB_RESUME_JSON_FIELDS_HPP

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace tether::detail {

/// Finds the top-level members `names[i]` of the object `text` and sets `values[i]` to the raw
/// text of the first one's value (a string value with its quotes); members not found leave their
/// value empty. Names are compared as written: a key spelled with escapes does not match. False
/// (and every value empty) when `text` is not structurally an object.
bool find_members(std::string_view text, std::span<const std::string_view> names,
                  std::span<std::string_view> values) noexcept;

/// A raw value that is a non-negative integer without sign, fraction or exponent that fits 64 bits.
std::optional<std::uint64_t> as_count(std::string_view raw) noexcept;

/// A raw value that is a string without escapes, without its quotes.
std::optional<std::string_view> as_plain_string(std::string_view raw) noexcept;

/// Where `{"<field>":N,` goes into `text`: just after its opening brace, the index of the first
/// byte after it; and whether the object is empty (the member then needs no comma). Nullopt when
/// `text` does not start (after white space) with `{`.
struct stamp_point {
    std::size_t at = 0;
    bool empty_object = false;
};
std::optional<stamp_point> find_stamp_point(std::string_view text) noexcept;

}  // namespace tether::detail

#endif
