#pragma once
// The optional second opinion on a custom-format dump: `pg_restore --list FILE`, which
// reads the archive's table of contents the way a restore would.
#include <string>

#include "collectors/backups/verify.h"

namespace assets::backups {

// Passed when pg_restore exits 0; failed with its first error line otherwise; pending
// (the process killed) when the budget runs out first.
VerifyStatus list_with_pg_restore(const std::string& pg_restore, const std::string& file, const Budget& budget);

}  // namespace assets::backups
