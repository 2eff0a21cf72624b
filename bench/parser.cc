// cfrac/espresso-like: an interpreter that generates expression source text, tokenises it into
// std::string tokens, parses it into a tree of small heap nodes, evaluates it against a std::map of
// variables, builds a simplified copy (constant folding, x*1, x+0), evaluates that too, and frees all.
// Lots of short-lived small objects of a few sizes, as in compilers and symbolic programs.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common.h"

namespace {
struct Node {
  char op;  // 'n' number, 'v' variable, or + - * / %
  int64_t val = 0;
  std::string name;
  Node* l = nullptr;
  Node* r = nullptr;
  ~Node() { delete l; delete r; }
};

void gen(bench::Rng& r, int depth, std::string& out) {
  if (depth == 0 || r.below(4) == 0) {
    if (r.below(2)) out += std::to_string(r.below(100));
    else { out += "var"; out += std::to_string(r.below(16)); }
    return;
  }
  static const char ops[] = "+-*/%";
  out += '(';
  gen(r, depth - 1, out);
  out += ' ';
  out += ops[r.below(5)];
  out += ' ';
  gen(r, depth - 1, out);
  out += ')';
}

std::vector<std::string> tokenize(const std::string& s) {
  std::vector<std::string> t;
  for (size_t i = 0; i < s.size();) {
    char c = s[i];
    if (c == ' ') { i++; continue; }
    if (isalnum((unsigned char)c)) {
      size_t j = i;
      while (j < s.size() && isalnum((unsigned char)s[j])) j++;
      t.emplace_back(s, i, j - i);
      i = j;
    } else {
      t.emplace_back(1, c);
      i++;
    }
  }
  return t;
}

Node* parse(const std::vector<std::string>& t, size_t& i) {
  Node* n = new Node;
  if (t[i] == "(") {
    i++;
    n->l = parse(t, i);
    n->op = t[i++][0];
    n->r = parse(t, i);
    i++;  // ')'
  } else if (isdigit((unsigned char)t[i][0])) {
    n->op = 'n';
    n->val = atoll(t[i++].c_str());
  } else {
    n->op = 'v';
    n->name = t[i++];
  }
  return n;
}

int64_t eval(const Node* n, const std::map<std::string, int64_t>& env) {
  switch (n->op) {
    case 'n': return n->val;
    case 'v': return env.at(n->name);
  }
  int64_t a = eval(n->l, env), b = eval(n->r, env);
  switch (n->op) {
    case '+': return a + b;
    case '-': return a - b;
    case '*': return a * b;
    case '/': return b ? a / b : a;
    default: return b ? a % b : a;
  }
}

Node* simplify(const Node* n) {
  Node* c = new Node;
  c->op = n->op;
  c->val = n->val;
  c->name = n->name;
  if (n->op == 'n' || n->op == 'v') return c;
  c->l = simplify(n->l);
  c->r = simplify(n->r);
  if (c->l->op == 'n' && c->r->op == 'n') {
    std::map<std::string, int64_t> none;
    c->val = eval(c, none);
    c->op = 'n';
    delete c->l;
    delete c->r;
    c->l = c->r = nullptr;
  } else if ((c->op == '*' && c->r->op == 'n' && c->r->val == 1) ||
             (c->op == '+' && c->r->op == 'n' && c->r->val == 0)) {
    Node* keep = c->l;
    c->l = nullptr;
    delete c;
    return keep;
  }
  return c;
}
}  // namespace

int main(int argc, char** argv) {
  bench::Args a = bench::parse_args(argc, argv);
  const uint64_t programs = bench::scaled(30000, a);
  bench::Rng r(9);
  uint64_t sum = 0, bad = 0;
  std::map<std::string, int64_t> env;
  for (int v = 0; v < 16; v++) env["var" + std::to_string(v)] = v * 3 + 1;
  for (uint64_t p = 0; p < programs; p++) {
    std::string src;
    gen(r, 9, src);
    std::vector<std::string> toks = tokenize(src);
    size_t i = 0;
    std::unique_ptr<Node> tree(parse(toks, i));
    std::unique_ptr<Node> simple(simplify(tree.get()));
    int64_t x = eval(tree.get(), env), y = eval(simple.get(), env);
    if (x != y || i != toks.size()) bad++;
    sum = sum * 1000003 + (uint64_t)x + src.size();
  }
  return bench::finish(sum, bad);
}
