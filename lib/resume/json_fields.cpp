#include "json_fields.hpp"

#include <algorithm>
#include <limits>

namespace tether::detail {
namespace {

bool is_space(char c) noexcept
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// A cursor over the text; every step checks the end, so truncated input is refused, not overrun.
struct scanner {
    std::string_view text;
    std::size_t i = 0;

    bool at_end() const noexcept { return i >= text.size(); }
    void skip_space() noexcept
    {
        while (i < text.size() && is_space(text[i])) ++i;
    }
    bool eat(char c) noexcept
    {
        skip_space();
        if (i < text.size() && text[i] == c) {
            ++i;
            return true;
        }
        return false;
    }
    // At a '"': past the closing quote, stepping over escapes.
    bool skip_string() noexcept
    {
        for (++i; i < text.size(); ++i) {
            if (text[i] == '\\')
                ++i;
            else if (text[i] == '"') {
                ++i;
                return true;
            }
        }
        return false;
    }
    // An object or array, with whatever it nests: the brackets balance outside strings.
    bool skip_nested() noexcept
    {
        std::size_t depth = 0;
        while (i < text.size()) {
            const char c = text[i];
            if (c == '"') {
                if (!skip_string()) return false;
                continue;
            }
            ++i;
            if (c == '{' || c == '[')
                ++depth;
            else if ((c == '}' || c == ']') && --depth == 0)
                return true;
        }
        return false;
    }
    // A number, true, false or null: up to the next separator.
    bool skip_scalar() noexcept
    {
        const std::size_t from = i;
        while (i < text.size() && text[i] != ',' && text[i] != '}' && text[i] != ']' && !is_space(text[i])) ++i;
        return i > from;
    }
    bool skip_value() noexcept
    {
        skip_space();
        if (at_end()) return false;
        switch (text[i]) {
        case '"': return skip_string();
        case '{':
        case '[': return skip_nested();
        default: return skip_scalar();
        }
    }
};

}  // namespace

bool find_members(std::string_view text, std::span<const std::string_view> names,
                  std::span<std::string_view> values) noexcept
{
    std::fill(values.begin(), values.end(), std::string_view());
    auto fail = [&] {
        std::fill(values.begin(), values.end(), std::string_view());
        return false;
    };
    scanner s{text};
    if (!s.eat('{')) return fail();
    if (s.eat('}')) return true;
    for (;;) {
        s.skip_space();
        if (s.at_end() || s.text[s.i] != '"') return fail();
        const std::size_t key_from = s.i + 1;
        if (!s.skip_string()) return fail();
        const std::string_view key = text.substr(key_from, s.i - 1 - key_from);
        if (!s.eat(':')) return fail();
        s.skip_space();
        const std::size_t value_from = s.i;
        if (!s.skip_value()) return fail();
        for (std::size_t n = 0; n < names.size() && n < values.size(); ++n)
            if (values[n].empty() && key == names[n]) values[n] = text.substr(value_from, s.i - value_from);
        if (s.eat(',')) continue;
        if (!s.eat('}')) return fail();
        s.skip_space();
        return s.at_end() ? true : fail();
    }
}

std::optional<std::uint64_t> as_count(std::string_view raw) noexcept
{
    if (raw.empty() || raw.size() > 20) return std::nullopt;
    if (raw.size() > 1 && raw[0] == '0') return std::nullopt;  // JSON has no leading zeros
    std::uint64_t n = 0;
    for (const char c : raw) {
        if (c < '0' || c > '9') return std::nullopt;
        const std::uint64_t digit = static_cast<std::uint64_t>(c - '0');
        if (n > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return std::nullopt;
        n = n * 10 + digit;
    }
    return n;
}

std::optional<std::string_view> as_plain_string(std::string_view raw) noexcept
{
    if (raw.size() < 2 || raw.front() != '"' || raw.back() != '"') return std::nullopt;
    const std::string_view inner = raw.substr(1, raw.size() - 2);
    if (inner.find('\\') != std::string_view::npos) return std::nullopt;
    return inner;
}

std::optional<stamp_point> find_stamp_point(std::string_view text) noexcept
{
    scanner s{text};
    if (!s.eat('{')) return std::nullopt;
    stamp_point p{s.i, false};
    s.skip_space();
    p.empty_object = !s.at_end() && text[s.i] == '}';
    return p;
}

}  // namespace tether::detail
