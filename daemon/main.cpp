// The executable: everything lives in the library; see app/Cli.h.
#include "app/Cli.h"

int main(int argc, char** argv) { return bulkwarden::app::main(argc, argv); }
