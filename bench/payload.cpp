// Realistic session JSON: the assistant, user and result messages a remote session streams, padded
// with conversation-like text (newlines, quotes, code) to exactly the requested size.
#include "bench.hpp"

#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <string_view>

namespace bench {
namespace {

// Templates from the richest to the smallest; `@` is where the text goes. The richest one whose
// skeleton fits the size is used, so small messages keep the shape of their kind.
const std::vector<std::string_view> assistant_templates = {
    R"({"type":"assistant","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant",)"
    R"("model":"claude-sonnet-4-5","content":[{"type":"text","text":"@"},{"type":"tool_use",)"
    R"("id":"toolu_01A09q90qw90lq917835lq9","name":"Read","input":{"file_path":"/src/lib/client.cpp"}}],)"
    R"("stop_reason":"tool_use","usage":{"input_tokens":2095,"output_tokens":503}},"parent_tool_use_id":null,)"
    R"("session_id":"a3f1c2e4-5b6d-4e7f-8a9b-0c1d2e3f4a5b","uuid":"0b9e4f2a-7c1d-4e8f-9a6b-3d5c7e1f2a4b"})",
    R"({"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"@"}]},)"
    R"("session_id":"a3f1c2e4-5b6d-4e7f-8a9b-0c1d2e3f4a5b"})",
    R"({"type":"assistant","text":"@"})",
};
const std::vector<std::string_view> user_templates = {
    R"({"type":"user","message":{"role":"user","content":[{"type":"tool_result",)"
    R"("tool_use_id":"toolu_01A09q90qw90lq917835lq9","content":"@","is_error":false}]},)"
    R"("parent_tool_use_id":null,"session_id":"a3f1c2e4-5b6d-4e7f-8a9b-0c1d2e3f4a5b",)"
    R"("uuid":"5e2d8c1b-4a3f-4b7e-9d6c-1f0a2b3c4d5e"})",
    R"({"type":"user","message":{"role":"user","content":"@"},"session_id":"a3f1c2e4"})",
    R"({"type":"user","text":"@"})",
};
const std::vector<std::string_view> result_templates = {
    R"({"type":"result","subtype":"success","is_error":false,"duration_ms":48211,"duration_api_ms":41877,)"
    R"("num_turns":7,"result":"@","session_id":"a3f1c2e4-5b6d-4e7f-8a9b-0c1d2e3f4a5b",)"
    R"("total_cost_usd":0.1287,"usage":{"input_tokens":12840,"cache_read_input_tokens":40211,"output_tokens":3120}})",
    R"({"type":"result","subtype":"success","is_error":false,"result":"@"})",
    R"({"type":"result","result":"@"})",
};

// Source text for the padding: an assistant's prose with a code block, and what JSON must escape
// in about the proportion such text has it (a newline every line, a few quotes and tabs).
constexpr std::string_view corpus =
    "I'll start by reading the client to see how the reader hands each message over to the "
    "application, and where the time per message goes before we decide what to change.\n\n"
    "The read loop keeps one buffer for the whole connection and parses every text frame once; the "
    "parsed value goes to the callback or into the bounded inbox, depending on how the client was "
    "configured. Nothing is copied on the way, except when the inbox has to hold a message.\n\n"
    "```cpp\nfor (;;) {\n\tauto [ec, n] = co_await ws.async_read(buffer, use_tuple);\n"
    "\tif (ec) co_return read_failure(ws, ec);\n\ton_text(text_of(buffer));\n\tbuffer.consume(n);\n}\n```\n\n"
    "Next I'll run the benchmark with \"scripts/dev bench --quick\" and compare the numbers with the "
    "raw Beast loop, which does the same parse, in the same run, against the same generator.\n";

void append_text(std::string& out, std::size_t length)
{
    std::size_t i = 0;
    const std::size_t end = out.size() + length;
    while (out.size() < end) {
        const char c = corpus[i++ % corpus.size()];
        const char* escaped = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '"' ? "\\\"" : c == '\\' ? "\\\\" : nullptr;
        if (!escaped) {
            out.push_back(c);
        } else if (end - out.size() >= 2) {
            out.append(escaped);
        } else {
            out.push_back(' ');  // an escape would not fit in the last byte
        }
    }
}

std::string fill(const std::vector<std::string_view>& templates, std::size_t size)
{
    for (const std::string_view t : templates) {
        const std::size_t skeleton = t.size() - 1;  // without the '@'
        if (skeleton > size) continue;
        const std::size_t at = t.find('@');
        std::string out;
        out.reserve(size);
        out.append(t.substr(0, at));
        append_text(out, size - skeleton);
        out.append(t.substr(at + 1));
        return out;
    }
    throw std::invalid_argument("message size " + std::to_string(size) + " is too small for session JSON");
}

}  // namespace

std::vector<std::string> session_messages(std::size_t size)
{
    return {fill(assistant_templates, size), fill(user_templates, size), fill(result_templates, size)};
}

std::vector<std::string> binary_messages(std::size_t size)
{
    if (size < 2) throw std::invalid_argument("binary payloads are at least 2 bytes");
    std::vector<std::string> out;
    std::uint32_t x = 0x9e3779b9u;  // xorshift32: any bytes, zeros and 0xff included
    for (int k = 0; k < 3; ++k) {
        std::string m(size, '\0');
        for (char& c : m) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            c = static_cast<char>(x & 0xff);
        }
        m.front() = static_cast<char>(binary_first);
        m.back() = static_cast<char>(binary_last);
        out.push_back(std::move(m));
    }
    return out;
}

std::size_t rss_bytes()
{
    // /proc/self/statm: size resident shared ... in pages.
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size = 0, resident = 0;
    const int got = std::fscanf(f, "%lu %lu", &size, &resident);
    std::fclose(f);
    return got == 2 ? resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE)) : 0;
}

}  // namespace bench
