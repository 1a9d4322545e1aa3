// rapsam_cpp_tests GROUP: runs the tests of GROUP; exit 0 (all passed), 1 (some failed) or 77
// (some skipped for want of reference data, none failed: ctest reports the group as skipped).
#include <iostream>

#include "check.h"
#include "rapsam/error.h"

namespace rapsam::test {

std::vector<Test>& registry() {
    static std::vector<Test> tests;
    return tests;
}

Register::Register(const char* group, const char* name, std::function<void()> run) {
    registry().push_back({group, name, std::move(run)});
}

void check(bool ok, const char* expression, const char* file, int line, const std::string& detail) {
    if (ok) return;
    throw Failure(std::string(file) + ":" + std::to_string(line) + ": CHECK(" + expression + ") failed" +
                  (detail.empty() ? "" : ": " + detail));
}

std::string error_of(const std::function<void()>& call, const char* file, int line) {
    try {
        call();
    } catch (const rapsam::Error& error) {
        return error.what();
    }
    throw Failure(std::string(file) + ":" + std::to_string(line) + ": expected a rapsam::Error, none was thrown");
}

}  // namespace rapsam::test

int main(int argc, char** argv) {
    using rapsam::test::registry;
    if (argc != 2) {
        std::cerr << "usage: rapsam_cpp_tests GROUP (groups:";
        for (const auto& test : registry()) std::cerr << " " << test.group;
        std::cerr << ")\n";
        return 2;
    }
    int run = 0, failed = 0, skipped = 0;
    for (const auto& test : registry()) {
        if (test.group != argv[1]) continue;
        ++run;
        try {
            test.run();
            std::cout << "PASS " << test.group << "." << test.name << "\n";
        } catch (const rapsam::test::Skip& skip) {
            ++skipped;
            std::cout << "SKIP " << test.group << "." << test.name << ": " << skip.what() << "\n";
        } catch (const std::exception& error) {
            ++failed;
            std::cout << "FAIL " << test.group << "." << test.name << ": " << error.what() << "\n";
        }
    }
    if (run == 0) {
        std::cerr << "no tests in group " << argv[1] << "\n";
        return 2;
    }
    std::cout << run - failed - skipped << " passed, " << failed << " failed, " << skipped << " skipped\n";
    if (failed) return 1;
    return skipped ? 77 : 0;
}
