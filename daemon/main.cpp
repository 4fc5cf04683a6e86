// The executable: everything lives in the library; see app/Cli.h (whose main() first sets the
// process umask to at least 027, before any thread or file exists).
#include "app/Cli.h"

int main(int argc, char** argv) { return bulkwarden::app::main(argc, argv); }
