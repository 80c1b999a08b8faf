#define BOOST_TEST_MODULE tether fault tests
#include <boost/test/unit_test.hpp>
