#include "app/Cli.h"

#include <cstdio>

namespace bulkwarden::app {

int main(int, char**) {
  std::puts("bulkwarden " BULKWARDEN_VERSION);
  return 0;
}

}  // namespace bulkwarden::app
