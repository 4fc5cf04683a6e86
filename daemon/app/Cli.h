// The command line of DESIGN.md section 1: parses the subcommand and runs it. Returns the exit
// code (sysexits.h).
#pragma once

namespace bulkwarden::app {

int main(int argc, char** argv);

}  // namespace bulkwarden::app
