#define BOOST_TEST_MODULE tether io tests
#include <boost/test/unit_test.hpp>
