#include <tether/error.hpp>

#include <boost/asio/error.hpp>
#include <boost/test/unit_test.hpp>

BOOST_AUTO_TEST_SUITE(errors)

BOOST_AUTO_TEST_CASE(category_and_messages)
{
    const tether::error_code ec = tether::error::unauthorized;
    BOOST_TEST(std::string(ec.category().name()) == "tether");
    BOOST_TEST(ec.message().find("4003") != std::string::npos);
    for (int e = 1; e <= static_cast<int>(tether::error::binary_message_skipped); ++e)
        BOOST_TEST(tether::error_code(static_cast<tether::error>(e)).message() != "unknown tether error");
}

BOOST_AUTO_TEST_CASE(conditions_classify_any_category)
{
    using tether::condition;
    const tether::error_code unauthorized = tether::error::unauthorized;
    const tether::error_code not_found = tether::error::session_not_found;
    const tether::error_code refused = boost::asio::error::connection_refused;
    BOOST_TEST((unauthorized == condition::permanent));
    BOOST_TEST((unauthorized != condition::transient));
    BOOST_TEST((not_found == condition::transient));
    BOOST_TEST((refused == condition::transient));
    BOOST_TEST(tether::is_permanent(unauthorized));
    BOOST_TEST(!tether::is_permanent(refused));
    BOOST_TEST(!tether::is_permanent(tether::error::heartbeat_timeout));
    BOOST_TEST(!tether::is_permanent(tether::error_code{}));
    BOOST_TEST((tether::error_code{} != condition::transient));
}

BOOST_AUTO_TEST_SUITE_END()
