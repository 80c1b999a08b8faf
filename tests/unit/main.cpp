#define BOOST_TEST_MODULE tether unit tests
#include <boost/test/unit_test.hpp>
