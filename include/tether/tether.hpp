// tether: a resilient WebSocket client for C++20 coroutines. Include this for everything.
#ifndef TETHER_TETHER_HPP
#define TETHER_TETHER_HPP

#include <tether/client.hpp>
#include <tether/config.hpp>
#include <tether/disconnect.hpp>
#include <tether/endpoint_group.hpp>
#include <tether/error.hpp>
#include <tether/message.hpp>
#include <tether/reconnect_policy.hpp>
#include <tether/resume.hpp>
#include <tether/sessions.hpp>
#include <tether/status.hpp>
#include <tether/url.hpp>

#endif
