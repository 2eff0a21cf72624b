// Small C++ program (iostream, std::string, std::vector): the start-up section's C++ case. Loading
// libstdc++ and running its static constructors is most of what it costs.
#include <iostream>
#include <string>
#include <vector>

int main() {
  std::vector<std::string> v{"hello", "world"};
  std::string s;
  for (auto& w : v) s += w + " ";
  std::cout << s << "\n";
  return s.size() == 12 ? 0 : 1;
}
