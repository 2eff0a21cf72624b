// The class tables, computed at compile time from the rules in size_classes.h.
#include "allocator/size_classes.h"

namespace brkmalloc {

constexpr ClassTables kClasses = make_class_tables();

}  // namespace brkmalloc
