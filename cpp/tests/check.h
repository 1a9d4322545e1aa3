// A small test harness for the ctest binary: TEST(group, name) registers a test, CHECK fails
// it with the expression and the place, and `rapsam_cpp_tests GROUP` runs one group (one ctest
// test each). No third-party test framework, so that CI installs nothing more.
#ifndef RAPSAM_TESTS_CHECK_H
#define RAPSAM_TESTS_CHECK_H

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace rapsam::test {

class Failure : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Thrown when reference data is absent and not required (the test counts as skipped).
class Skip : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct Test {
    std::string group;
    std::string name;
    std::function<void()> run;
};

std::vector<Test>& registry();

struct Register {
    Register(const char* group, const char* name, std::function<void()> run);
};

void check(bool ok, const char* expression, const char* file, int line, const std::string& detail = "");

// The message of the rapsam::Error that `call` throws; a failure if it throws none.
std::string error_of(const std::function<void()>& call, const char* file, int line);

}  // namespace rapsam::test

#define TEST(group, name)                                                                                  \
    static void test_##group##_##name();                                                                   \
    static const ::rapsam::test::Register register_##group##_##name(#group, #name, test_##group##_##name); \
    static void test_##group##_##name()
#define CHECK(...) ::rapsam::test::check((__VA_ARGS__), #__VA_ARGS__, __FILE__, __LINE__)
#define CHECK_MSG(condition, detail) ::rapsam::test::check((condition), #condition, __FILE__, __LINE__, (detail))
#define ERROR_OF(...) ::rapsam::test::error_of([&] { __VA_ARGS__; }, __FILE__, __LINE__)

#endif  // RAPSAM_TESTS_CHECK_H
