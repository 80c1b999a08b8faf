// Fuzz target: the client's read path. A real tether::client connects to a fake server on
// 127.0.0.1 that completes a valid upgrade and then writes the input's bytes (after its first) as
// if they were frames, then closes its side. The client must end promptly, for a reason an
// established link can end for, having delivered only typed JSON objects and written only
// well-formed client frames (see check_established_link); ASan/UBSan/LSan watch the rest.
//
// The first byte picks the client's configuration, so the fuzzer explores each:
//   bit 0  consume with async_receive (else the on_message callback)
//   bit 1  max_message_size 256 bytes (else the 16 MiB default)
//   bit 2  echo every delivered message back (the writer runs alongside the reader)
//   bit 3  receive_buffer_capacity 1 (reading pauses until the consumer catches up)
//   bit 4  heartbeat every 2 ms with a 2 ms pong timeout
#include "harness.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace std::chrono_literals;
    if (size < 1) return 0;
    const std::uint8_t mode = data[0];
    tether::fuzz::exchange_options o;
    o.bytes.assign(reinterpret_cast<const char*>(data + 1), size - 1);
    o.send_101_first = true;
    o.use_receive = (mode & 1) != 0;
    o.max_message_size = (mode & 2) ? 256 : 0;
    o.echo = (mode & 4) != 0;
    o.receive_capacity = (mode & 8) ? 1 : 0;
    o.ping_interval = (mode & 16) ? 2ms : 0ms;

    const auto r = tether::fuzz::run_exchange(o);
    tether::fuzz::require(r.stats.connections == 1, "a valid upgrade did not connect");
    tether::fuzz::check_established_link(o, r, r.sent);
    return 0;
}
