// Acknowledged sends and resumable receives, their decisions without sockets: the top-level member
// scan, the outbound ledger (keep, write, rewind, acknowledge, complete), the inbound cursor
// (next, duplicate, gap, when to acknowledge) and the upgrade's offer, in tables.
#include "resume/cursor.hpp"
#include "resume/json_fields.hpp"
#include "resume/ledger.hpp"
#include "wire/mask.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using tether::ack_style;
using tether::acknowledged_sends;
using tether::acknowledgement;
using tether::error_code;
using tether::message_kind;
using tether::resumable_receives;
using tether::send_completion;
using namespace tether::detail;

namespace std {
// Boost.Test prints what it compares; optionals, as their value or "nullopt".
template <class T>
std::ostream& boost_test_print_type(std::ostream& os, const std::optional<T>& v)
{
    if (v) return os << *v;
    return os << "nullopt";
}
}  // namespace std

namespace {

struct member_row {
    std::string_view text;
    bool object;
    std::string_view type, seq, id;  // raw values
};

}  // namespace

BOOST_AUTO_TEST_SUITE(resume_decisions)

BOOST_AUTO_TEST_CASE(top_level_members_are_found_and_nested_ones_skipped)
{
    const member_row rows[] = {
        {R"({"type":"ack","seq":12})", true, R"("ack")", "12", ""},
        {R"( { "seq" : 7 , "type" : "event" } )", true, R"("event")", "7", ""},
        // Nested members of the same name are not top-level.
        {R"({"data":{"seq":1,"type":"x"},"seq":2})", true, "", "2", ""},
        {R"({"a":[{"seq":1}],"b":"}\"seq\":3","seq":4})", true, "", "4", ""},
        {R"({"id":"m-1","type":"ack"})", true, R"("ack")", "", R"("m-1")"},
        {R"({"seq":1.5,"type":null})", true, "null", "1.5", ""},
        {R"({})", true, "", "", ""},
        {R"({"seq":1,"seq":2})", true, "", "1", ""},  // the first one
        // Not objects, or broken structure: nothing.
        {R"([1,2])", false, "", "", ""},
        {R"("seq")", false, "", "", ""},
        {R"({"seq":1)", false, "", "", ""},
        {R"({"seq":1} x)", false, "", "", ""},
        {R"({"seq" 1})", false, "", "", ""},
        {R"({"seq":"unterminated})", false, "", "", ""},
        {R"({"a":{"b":[}})", false, "", "", ""},
        {"", false, "", "", ""},
    };
    const std::array<std::string_view, 3> names{"type", "seq", "id"};
    for (const member_row& r : rows) {
        BOOST_TEST_CONTEXT(r.text)
        {
            std::array<std::string_view, 3> values{"junk", "junk", "junk"};
            BOOST_TEST(find_members(r.text, names, values) == r.object);
            BOOST_TEST(values[0] == r.type);
            BOOST_TEST(values[1] == r.seq);
            BOOST_TEST(values[2] == r.id);
        }
    }
}

BOOST_AUTO_TEST_CASE(counts_and_plain_strings)
{
    BOOST_TEST(as_count("0") == std::optional<std::uint64_t>(0));
    BOOST_TEST(as_count("18446744073709551615") == std::optional<std::uint64_t>(18446744073709551615ull));
    for (std::string_view bad : {"", "-1", "1.0", "1e3", "01", "18446744073709551616", "\"1\"", "99999999999999999999"})
        BOOST_TEST(!as_count(bad).has_value(), bad);
    BOOST_TEST(as_plain_string(R"("abc")") == std::optional<std::string_view>("abc"));
    BOOST_TEST(as_plain_string(R"("")") == std::optional<std::string_view>(""));
    BOOST_TEST(!as_plain_string(R"("a\"b")").has_value());
    BOOST_TEST(!as_plain_string("12").has_value());
}

BOOST_AUTO_TEST_CASE(the_stamp_goes_after_the_opening_brace)
{
    acknowledged_sends cfg;
    cfg.enabled = true;
    struct row {
        std::string_view payload;
        std::optional<std::string_view> stamped;
    };
    const row rows[] = {
        {R"({"type":"x"})", R"({"seq":1,"type":"x"})"},
        {R"(  {"a":1})", R"(  {"seq":1,"a":1})"},
        {R"({})", R"({"seq":1})"},
        {R"({ })", R"({"seq":1 })"},
        {R"([1])", std::nullopt},
        {"hello", std::nullopt},
    };
    for (const row& r : rows) {
        outbound_ledger ledger(cfg);
        outgoing m;
        m.payload = r.payload;
        BOOST_REQUIRE(ledger.keep(m));
        const retained* kept = ledger.next_to_write();
        BOOST_REQUIRE(kept);
        BOOST_TEST(kept->payload() == r.stamped.value_or(r.payload));
        BOOST_TEST(kept->application_size() == r.payload.size());  // what the bounds count
        BOOST_TEST(ledger.bytes() == r.payload.size());
    }
    outbound_ledger ledger(cfg);
    outgoing binary;
    binary.kind = message_kind::binary;
    binary.payload = "{}";
    BOOST_REQUIRE(ledger.keep(binary));
    BOOST_TEST(ledger.next_to_write()->payload() == "{}");
    // The number is the message's, stamped or not.
    outgoing text;
    text.payload = "{}";
    BOOST_REQUIRE(ledger.keep(text));
    ledger.advance();
    BOOST_TEST(ledger.next_to_write()->payload() == R"({"seq":2})");
}

BOOST_AUTO_TEST_CASE(stamps_count_on_through_every_carry)
{
    acknowledged_sends cfg;
    cfg.enabled = true;
    cfg.max_messages = 5000;
    outbound_ledger l(cfg);
    for (std::uint64_t seq = 1; seq <= 1200; ++seq) {
        outgoing m;
        m.payload = "{}";
        BOOST_REQUIRE(l.keep(m));
        const retained* r = l.next_to_write();
        BOOST_REQUIRE(r);
        BOOST_REQUIRE_EQUAL(r->payload(), "{\"seq\":" + std::to_string(seq) + "}");
        l.advance(*r);
    }
    // A resend after a reconnect carries the number it was kept with.
    l.rewind();
    for (std::uint64_t seq : {1, 2, 3}) {
        const retained* r = l.next_to_write();
        BOOST_TEST(r->payload() == "{\"seq\":" + std::to_string(seq) + "}");
        l.advance(*r);
    }
}

namespace {

// A client frame read back: its opcode and its payload, unmasked.
struct read_frame {
    unsigned op = 0;
    std::string payload;
    tether::wire::mask_key key{};
};

read_frame read_back(std::span<const unsigned char> f)
{
    read_frame out;
    BOOST_REQUIRE(f.size() >= 6);
    BOOST_TEST((f[0] & 0x80) != 0);  // FIN
    out.op = f[0] & 0x0F;
    BOOST_TEST((f[1] & 0x80) != 0);  // masked
    std::size_t n = f[1] & 0x7F, at = 2;
    if (n == 126) {
        n = (std::size_t(f[2]) << 8) | f[3];
        at = 4;
    }
    std::copy_n(f.data() + at, 4, out.key.begin());
    at += 4;
    BOOST_REQUIRE_EQUAL(f.size(), at + n);
    out.payload.assign(reinterpret_cast<const char*>(f.data() + at), n);
    tether::wire::mask_in_place(reinterpret_cast<unsigned char*>(out.payload.data()), n, out.key);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_kept_message_is_its_masked_frame_masked_afresh_for_each_resend)
{
    acknowledged_sends cfg;
    cfg.enabled = true;
    outbound_ledger l(cfg);
    tether::wire::mask_source keys;
    const std::string large = R"({"text":")" + std::string(300, 'x') + R"("})";
    struct row {
        message_kind kind;
        std::string payload, on_the_wire;
        unsigned op;
    } rows[] = {
        {message_kind::text, "{}", R"({"seq":1})", 0x1},
        {message_kind::text, R"({"a":1})", R"({"seq":2,"a":1})", 0x1},
        {message_kind::text, large, R"({"seq":3,)" + large.substr(1), 0x1},  // a 16-bit length
        {message_kind::binary, "\x01\x02", "\x01\x02", 0x2},                 // not stamped
        {message_kind::text, "[1]", "[1]", 0x1},                             // not an object
    };
    for (const row& r : rows) {
        outgoing m;
        m.kind = r.kind;
        m.payload = r.payload;
        BOOST_REQUIRE(l.keep(m, &keys));
        retained* kept = l.next_to_write();
        BOOST_REQUIRE(kept);
        BOOST_TEST(kept->framed());
        BOOST_TEST(kept->application_size() == r.payload.size());  // what the bounds count
        const read_frame first = read_back(kept->frame());
        BOOST_TEST(first.op == r.op);
        BOOST_TEST(first.payload == r.on_the_wire);
        // A resend: the same message under a new key.
        kept->key_used = true;
        const tether::wire::mask_key next = keys.next();
        outbound_ledger::reframe(*kept, next);
        const read_frame again = read_back(kept->frame());
        BOOST_TEST(again.payload == r.on_the_wire);
        BOOST_TEST((again.key == next));
        BOOST_TEST(!kept->key_used);
        // A link that compresses takes the payload itself.
        outbound_ledger::unframe(*kept);
        BOOST_TEST(!kept->framed());
        BOOST_TEST(kept->payload() == r.on_the_wire);
        BOOST_TEST(kept->application_size() == r.payload.size());
        l.advance(*kept);
    }
    BOOST_TEST(l.bytes() == 2u + 7u + large.size() + 2u + 3u);
}

BOOST_AUTO_TEST_CASE(kept_payloads_share_blocks_that_go_back_when_every_payload_in_them_is_released)
{
    payload_store store;
    std::vector<const char*> at;
    // 4 KiB, 8 KiB, 16 KiB blocks fill as payloads of 1 KiB come; each keeps its bytes.
    for (int i = 0; i < 28; ++i) at.push_back(store.store(std::string(1024, static_cast<char>('a' + i % 26))));
    BOOST_TEST(store.capacity() == (4u + 8u + 16u) * 1024u);
    for (int i = 0; i < 28; ++i) BOOST_TEST(std::string_view(at[i], 1024) == std::string(1024, char('a' + i % 26)));
    // Releasing the first four gives the 4 KiB block back, as a spare; then the 8 KiB one.
    for (int i = 0; i < 4; ++i) store.release_oldest();
    BOOST_TEST(store.capacity() == (8u + 16u) * 1024u);
    BOOST_TEST(store.spare_capacity() == 4u * 1024u);
    for (int i = 4; i < 12; ++i) store.release_oldest();
    BOOST_TEST(store.capacity() == 16u * 1024u);
    BOOST_TEST(store.spare_capacity() == (4u + 8u) * 1024u);
    // The last block empties: payloads start over in it.
    for (int i = 12; i < 28; ++i) store.release_oldest();
    BOOST_TEST(store.capacity() == 16u * 1024u);
    // The next block is 32 KiB: the spares too small for it go; one that fits is taken.
    for (int i = 0; i < 17; ++i) store.store(std::string(1024, 'n'));
    BOOST_TEST(store.capacity() == (16u + 32u) * 1024u);
    BOOST_TEST(store.spare_capacity() == 0u);
    for (int i = 0; i < 17; ++i) store.release_oldest();
    BOOST_TEST(store.spare_capacity() == 16u * 1024u);
    // Quiet: the trim gives back the spares and the large empty block; a quiet store holds nothing.
    store.trim();
    BOOST_TEST(store.capacity() == 0u);
    BOOST_TEST(store.spare_capacity() == 0u);
    // A small block stays through a trim, for the next payloads.
    store.store("x");
    store.release_oldest();
    store.trim();
    BOOST_TEST(store.capacity() == 4u * 1024u);
    const char* again = store.store("y");
    BOOST_TEST(std::string_view(again, 1) == "y");
    store.clear();
    BOOST_TEST(store.capacity() == 4u * 1024u);
}

BOOST_AUTO_TEST_CASE(a_streaming_store_cycles_through_spare_blocks_until_a_trim)
{
    payload_store store;
    // A stream of 1 KiB payloads, up to 200 kept at a time, the store emptying now and then (as
    // acknowledgements catch up): given back blocks wait as spares, so after the first rounds
    // nothing more is made, and blocks and spares together never exceed the most held at once.
    const std::string payload(1024, 'p');
    std::size_t kept = 0, most = 0, settled = 0;
    for (int round = 0; round < 20; ++round) {
        for (int i = 0; i < 500; ++i) {
            store.store(payload);
            if (++kept > 200) {
                store.release_oldest();
                --kept;
            }
            most = std::max(most, store.capacity());
        }
        while (kept > 0) {  // every message acknowledged
            store.release_oldest();
            --kept;
        }
        BOOST_TEST_REQUIRE(store.capacity() + store.spare_capacity() <= most + 64u * 1024u);
        if (round == 2) settled = store.capacity() + store.spare_capacity();
    }
    BOOST_TEST(store.capacity() + store.spare_capacity() == settled);
    BOOST_TEST(most <= 200u * 1024u + 2u * 64u * 1024u);
    store.trim();
    BOOST_TEST(store.spare_capacity() == 0u);
    BOOST_TEST(store.capacity() == 0u);
}

namespace {

// A send whose completion the table observes: the error it completed with, if it did.
struct probe {
    std::optional<error_code> result;
};

outgoing send_of(std::string payload, probe* p = nullptr)
{
    outgoing o;
    o.payload = std::move(payload);
    if (p) {
        // Swapped in: Boost 1.81's any_completion_handler must not be move-assigned.
        void_handler h([p](error_code ec) { p->result = ec; });
        o.handler.swap(h);
    }
    return o;
}

void run(std::vector<finished_send>& done)
{
    for (auto& f : done)
        if (f.handler) std::move(f.handler)(f.ec);
    done.clear();
}

// The sequence numbers the link would write now, in order.
std::vector<std::uint64_t> drain(outbound_ledger& l)
{
    std::vector<std::uint64_t> out;
    while (const retained* r = l.next_to_write()) {
        out.push_back(r->seq);
        l.advance();
    }
    return out;
}

using seqs = std::vector<std::uint64_t>;

}  // namespace

BOOST_AUTO_TEST_CASE(kept_messages_go_out_again_after_a_reconnect_until_acknowledged)
{
    acknowledged_sends cfg;
    cfg.enabled = true;
    cfg.max_messages = 4;
    cfg.max_bytes = 1000;
    outbound_ledger l(cfg);
    std::vector<finished_send> done;
    std::array<probe, 6> p;
    for (int i = 0; i < 3; ++i) {
        outgoing o = send_of("{}", &p[i]);
        BOOST_TEST(l.keep(o));
    }
    BOOST_TEST(l.room_messages() == 1u);
    BOOST_TEST(drain(l) == (seqs{1, 2, 3}));
    // The write of 1 and 2 succeeded: their sends complete (written), 3 is still on its way.
    BOOST_TEST(l.written_through(3, done) == 2u);
    run(done);
    BOOST_TEST(p[0].result.has_value());
    BOOST_TEST(!p[2].result.has_value());
    // The link died: all three again, in order, on the next one; a resend is counted.
    BOOST_TEST(l.rewind() == 3u);
    BOOST_TEST(drain(l) == (seqs{1, 2, 3}));
    BOOST_TEST(l.resent() == 2u);  // 3 had never been written whole
    // The server had 1 and 2: released; 3 completes on its first successful write.
    BOOST_TEST(l.acknowledge({2, std::nullopt}, done) == 2u);
    BOOST_TEST(l.size() == 1u);
    BOOST_TEST(l.written_through(4, done) == 1u);
    run(done);
    BOOST_TEST((p[2].result && !*p[2].result));
    // An acknowledgement beyond what was sent releases what was sent, no more.
    outgoing o = send_of("{}", &p[3]);
    BOOST_TEST(l.keep(o));
    BOOST_TEST(l.acknowledge({99, std::nullopt}, done) == 2u);
    run(done);
    BOOST_TEST(l.size() == 0u);
    BOOST_TEST((p[3].result && !*p[3].result));  // acknowledged before any write: complete
    BOOST_TEST(l.last_seq() == 4u);
    BOOST_TEST(l.rewind() == 0u);
    BOOST_TEST(drain(l).empty());
}

BOOST_AUTO_TEST_CASE(the_buffer_stops_at_its_bounds_and_acknowledged_completion_waits_for_the_ack)
{
    acknowledged_sends cfg;
    cfg.enabled = true;
    cfg.max_messages = 10;
    cfg.max_bytes = 10;
    cfg.completion = send_completion::acknowledged;
    outbound_ledger l(cfg);
    std::vector<finished_send> done;
    std::array<probe, 3> p;
    outgoing a = send_of("{\"a\":1}", &p[0]);  // 7 bytes
    BOOST_TEST(l.keep(a));
    BOOST_TEST(l.room_bytes() == 3u);
    BOOST_TEST(!l.full());
    outgoing b = send_of("{\"b\":2}", &p[1]);
    BOOST_TEST(l.keep(b));  // the ledger keeps what the writer hands it; the writer asks for room first
    BOOST_TEST(l.full());
    BOOST_TEST(l.bytes() == 14u);
    drain(l);
    l.written_through(3, done);
    run(done);
    BOOST_TEST(!p[0].result.has_value());  // written, not acknowledged
    l.acknowledge({1, std::nullopt}, done);
    run(done);
    BOOST_TEST((p[0].result && !*p[0].result));
    BOOST_TEST(!p[1].result.has_value());
    BOOST_TEST(!l.full());
    // The client finishes: what is kept fails.
    l.fail_all(tether::error::client_closed, done);
    run(done);
    BOOST_TEST((p[1].result && *p[1].result == tether::error::client_closed));
    BOOST_TEST(l.size() == 0u);
    BOOST_TEST(l.bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(a_large_payload_keeps_its_own_string_beside_small_ones_in_the_store)
{
    acknowledged_sends cfg;
    cfg.enabled = true;
    cfg.style = ack_style::per_message;
    outbound_ledger l(cfg);
    std::vector<finished_send> done;
    const std::string large = R"({"id":"big","pad":")" + std::string(20000, 'x') + R"("})";
    outgoing big = send_of(large);
    outgoing small = send_of(R"({"id":"small"})");
    BOOST_TEST(l.keep(big));
    BOOST_TEST(l.keep(small));
    BOOST_TEST(l.bytes() == large.size() + 14);
    const retained* r = l.next_to_write();
    BOOST_REQUIRE(r);
    BOOST_TEST(r->payload() == R"({"seq":1,)" + large.substr(1));  // stamped in its own string
    BOOST_TEST(r->id() == "big");
    BOOST_TEST(r->application_size() == large.size());
    l.advance();
    BOOST_TEST(l.next_to_write()->payload() == R"({"seq":2,"id":"small"})");
    BOOST_TEST(l.next_to_write()->id() == "small");
    BOOST_TEST(l.acknowledge({std::nullopt, "big"}, done) == 1u);
    BOOST_TEST(l.bytes() == 14u);
    BOOST_TEST(l.acknowledge({std::nullopt, "small"}, done) == 1u);
    BOOST_TEST(l.bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(per_message_acknowledgements_release_by_id_in_any_order)
{
    acknowledged_sends cfg;
    cfg.enabled = true;
    cfg.style = ack_style::per_message;
    cfg.completion = send_completion::acknowledged;
    outbound_ledger l(cfg);
    std::vector<finished_send> done;
    std::array<probe, 3> p;
    const char* payloads[] = {R"({"id":"a"})", R"({"id":"b","x":{"id":"no"}})", R"({"id":"c"})"};
    for (int i = 0; i < 3; ++i) {
        outgoing o = send_of(payloads[i], &p[i]);
        BOOST_TEST(l.keep(o));
    }
    outgoing anonymous = send_of(R"({"x":1})");
    BOOST_TEST(!l.keep(anonymous));  // refused: nothing to be acknowledged by
    BOOST_TEST(anonymous.payload == R"({"x":1})");
    BOOST_TEST(drain(l) == (seqs{1, 2, 3}));
    // b first: completed, but a still holds the front.
    BOOST_TEST(l.acknowledge({std::nullopt, "b"}, done) == 0u);
    run(done);
    BOOST_TEST(p[1].result.has_value());
    BOOST_TEST(!p[0].result.has_value());
    // After a reconnect b is not sent again.
    l.rewind();
    BOOST_TEST(drain(l) == (seqs{1, 3}));
    BOOST_TEST(l.acknowledge({std::nullopt, "a"}, done) == 2u);  // a, and b behind it
    BOOST_TEST(l.acknowledge({std::nullopt, "zzz"}, done) == 0u);
    run(done);
    BOOST_TEST(p[0].result.has_value());
    BOOST_TEST(l.size() == 1u);
}

BOOST_AUTO_TEST_CASE(the_cursor_delivers_each_position_once_and_reports_gaps)
{
    resumable_receives cfg;
    cfg.enabled = true;
    cfg.ack_every = 3;
    inbound_cursor c(cfg);
    struct row {
        std::uint64_t position;
        admission verdict;
        std::uint64_t last;
        bool ack_now;
    };
    const row rows[] = {
        {1, admission::next, 1, false},      {2, admission::next, 2, false}, {2, admission::duplicate, 2, false},
        {1, admission::duplicate, 2, false}, {3, admission::next, 3, true},  {7, admission::gap, 7, true},
        {8, admission::next, 8, true},
    };
    for (const row& r : rows) {
        BOOST_TEST_CONTEXT("position " << r.position)
        {
            BOOST_TEST((c.admit(r.position) == r.verdict));
            BOOST_TEST(c.last() == r.last);
            BOOST_TEST(c.ack_due_now() == r.ack_now);
        }
    }
    BOOST_TEST(c.ack_waiting());
    BOOST_TEST(c.take_ack() == std::optional<std::uint64_t>(8));
    BOOST_TEST(!c.ack_waiting());
    BOOST_TEST(!c.take_ack().has_value());  // no news
    c.admit(9);
    BOOST_TEST(c.ack_waiting());
    BOOST_TEST(!c.ack_due_now());
    c.offered();  // a new upgrade offered 9: acknowledged
    BOOST_TEST(!c.ack_waiting());
}

BOOST_AUTO_TEST_CASE(the_cursor_starts_after_a_position_kept_by_the_application_and_may_not_ack)
{
    resumable_receives cfg;
    cfg.enabled = true;
    cfg.start_after = 41;
    cfg.send_acks = false;
    inbound_cursor c(cfg);
    BOOST_TEST((c.admit(41) == admission::duplicate));
    BOOST_TEST((c.admit(42) == admission::next));
    BOOST_TEST(!c.ack_waiting());
    BOOST_TEST(!c.take_ack().has_value());
}

BOOST_AUTO_TEST_CASE(the_upgrade_offers_the_last_position)
{
    struct row {
        std::string header, query;
        std::uint64_t last;
        std::string target;
        std::string expected_target;
        std::optional<std::string> header_value;
    };
    const row rows[] = {
        {"Last-Event-ID", "", 0, "/s?x=1", "/s?x=1", std::nullopt},  // nothing delivered: nothing offered
        {"Last-Event-ID", "", 5, "/s?x=1", "/s?x=1", "5"},
        {"", "last_seq", 5, "/s", "/s?last_seq=5", std::nullopt},
        {"", "last seq", 5, "/s?a=b", "/s?a=b&last%20seq=5", std::nullopt},
        {"X-Resume", "from", 18446744073709551615ull, "/", "/?from=18446744073709551615", "18446744073709551615"},
    };
    for (const row& r : rows) {
        resumable_receives cfg;
        cfg.enabled = true;
        cfg.resume_header = r.header;
        cfg.resume_query = r.query;
        const resume_offer o = offer_for(cfg, r.last, r.target);
        BOOST_TEST(o.target == r.expected_target);
        BOOST_TEST(o.header_field.has_value() == r.header_value.has_value());
        if (o.header_field) {
            BOOST_TEST(o.header_field->name == r.header);
            BOOST_TEST(o.header_field->value == *r.header_value);
        }
    }
    BOOST_TEST(default_ack(64) == R"({"type":"ack","seq":64})");
}

BOOST_AUTO_TEST_SUITE_END()
