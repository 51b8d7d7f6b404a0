#include "engine/passes/constant_evaluation.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/status_macros.h"

namespace quantd::engine::constant_evaluation {

int64_t Product(const std::vector<int64_t>& dims, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= dims[i];
  return p;
}

int64_t Product(const std::vector<int64_t>& dims, size_t begin) {
  return Product(dims, begin, dims.size());
}

Value FromConstant(const Constant& c) {
  Value v{.type = c.type, .dims = c.dims, .floats = c.floats, .ints = {}};
  for (int64_t x : c.ints) v.ints.push_back(Known(x));
  return v;
}

Constant ToConstant(const Value& v) {
  Constant c{.type = v.type, .dims = v.dims, .floats = v.floats, .ints = {}};
  for (const Dim& d : v.ints) c.ints.push_back(d.value);
  return c;
}

Value IntVector(const std::vector<Dim>& elems, std::vector<int64_t> dims) {
  return Value{
      .type = Constant::Type::kInt64, .dims = std::move(dims), .floats = {}, .ints = elems};
}

std::optional<std::vector<int64_t>> KnownInts(const Value& v) {
  if (v.is_float() || !v.known()) return std::nullopt;
  std::vector<int64_t> out;
  for (const Dim& d : v.ints) out.push_back(d.value);
  return out;
}

std::optional<int64_t> NormalizeAxis(int64_t axis, int64_t rank) {
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return std::nullopt;
  return axis;
}

namespace {

// Copies elements of `src` at `indices` (flat) into a tensor shaped `dims`.
Value Pick(const Value& src, const std::vector<int64_t>& indices, std::vector<int64_t> dims) {
  Value out{.type = src.type, .dims = std::move(dims), .floats = {}, .ints = {}};
  for (int64_t i : indices) {
    if (src.is_float()) {
      out.floats.push_back(src.floats[i]);
    } else {
      out.ints.push_back(src.ints[i]);
    }
  }
  return out;
}

// Axes from the opset < 13 attribute or the opset >= 13 second input.
std::optional<std::vector<int64_t>> AxesOf(const Node& node, const std::vector<const Value*>& in) {
  if (std::optional<std::vector<int64_t>> attr = FindIntsAttr(node, "axes")) return attr;
  if (in.size() > 1 && in[1] != nullptr) return KnownInts(*in[1]);
  return std::nullopt;
}

absl::Status Invalid(const Node& node, const std::string& what) {
  return absl::InvalidArgumentError(
      absl::StrCat("node '", node.name, "' (", node.op_type, "): ", what));
}

}  // namespace

absl::StatusOr<int64_t> CheckedElementCount(const Node& node, const std::vector<int64_t>& dims) {
  int64_t count = 1;
  for (int64_t d : dims) {
    if (d < 0) return Invalid(node, absl::StrCat("negative dimension ", d));
    if (d != 0 && count > kMaxEvaluatedElements / d) {
      return Invalid(node, absl::StrCat("a constant of shape [", absl::StrJoin(dims, ","),
                                        "] exceeds the limit of ", kMaxEvaluatedElements,
                                        " elements for tensors computed from constants"));
    }
    count *= d;
  }
  return count;
}

// One function per op: `node` supplies the attributes, the Value arguments
// its inputs (a null entry in `in` is an omitted optional input). Each
// returns the node's outputs, or nullopt when it does not handle the node.
namespace {

// Errors: INVALID_ARGUMENT for an index out of range.
absl::StatusOr<Folded> FoldGather(const Node& node, const Value& data, const Value& indices) {
  const int64_t rank = static_cast<int64_t>(data.dims.size());
  const std::optional<int64_t> axis = NormalizeAxis(IntAttr(node, "axis", 0), rank);
  const std::optional<std::vector<int64_t>> idx = KnownInts(indices);
  if (!axis || !idx) return Folded();
  const int64_t n = data.dims[*axis];
  const int64_t outer = Product(data.dims, 0, *axis);
  const int64_t inner = Product(data.dims, *axis + 1);
  std::vector<int64_t> dims(data.dims.begin(), data.dims.begin() + *axis);
  dims.insert(dims.end(), indices.dims.begin(), indices.dims.end());
  dims.insert(dims.end(), data.dims.begin() + *axis + 1, data.dims.end());
  RETURN_IF_ERROR(CheckedElementCount(node, dims).status());
  std::vector<int64_t> picks;
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t k : *idx) {
      if (k < -n || k >= n) {
        return Invalid(node, absl::StrCat("index ", k, " out of range for dimension ", n));
      }
      if (k < 0) k += n;
      for (int64_t i = 0; i < inner; ++i) picks.push_back((o * n + k) * inner + i);
    }
  }
  return Folded(Values{Pick(data, picks, std::move(dims))});
}

Folded FoldUnsqueeze(const Node& node, const std::vector<const Value*>& in) {
  std::optional<std::vector<int64_t>> axes = AxesOf(node, in);
  if (!axes) return std::nullopt;
  const int64_t out_rank = static_cast<int64_t>(in[0]->dims.size() + axes->size());
  std::vector<bool> inserted(out_rank, false);
  for (int64_t a : *axes) {
    const std::optional<int64_t> axis = NormalizeAxis(a, out_rank);
    if (!axis || inserted[*axis]) return std::nullopt;
    inserted[*axis] = true;
  }
  Value out = *in[0];
  out.dims.clear();
  size_t next = 0;
  for (int64_t i = 0; i < out_rank; ++i) out.dims.push_back(inserted[i] ? 1 : in[0]->dims[next++]);
  return Values{std::move(out)};
}

Folded FoldSqueeze(const Node& node, const std::vector<const Value*>& in) {
  const int64_t rank = static_cast<int64_t>(in[0]->dims.size());
  std::optional<std::vector<int64_t>> axes = AxesOf(node, in);
  std::vector<bool> drop(rank, false);
  if (!axes) {
    if (FindIntsAttr(node, "axes") || (in.size() > 1 && in[1] != nullptr)) return std::nullopt;
    for (int64_t i = 0; i < rank; ++i) drop[i] = in[0]->dims[i] == 1;
  } else {
    for (int64_t a : *axes) {
      const std::optional<int64_t> axis = NormalizeAxis(a, rank);
      if (!axis || in[0]->dims[*axis] != 1) return std::nullopt;
      drop[*axis] = true;
    }
  }
  Value out = *in[0];
  out.dims.clear();
  for (int64_t i = 0; i < rank; ++i) {
    if (!drop[i]) out.dims.push_back(in[0]->dims[i]);
  }
  return Values{std::move(out)};
}

absl::StatusOr<Folded> FoldConcat(const Node& node, const std::vector<const Value*>& in) {
  const int64_t rank = static_cast<int64_t>(in[0]->dims.size());
  const std::optional<int64_t> axis = NormalizeAxis(IntAttr(node, "axis", 0), rank);
  if (!axis) return Folded();
  Value out{.type = in[0]->type, .dims = in[0]->dims, .floats = {}, .ints = {}};
  out.dims[*axis] = 0;
  for (const Value* v : in) {
    if (v->type != out.type || static_cast<int64_t>(v->dims.size()) != rank) return Folded();
    for (int64_t a = 0; a < rank; ++a) {
      if (a != *axis && v->dims[a] != in[0]->dims[a]) return Folded();
    }
    out.dims[*axis] += v->dims[*axis];
  }
  RETURN_IF_ERROR(CheckedElementCount(node, out.dims).status());
  const int64_t outer = Product(in[0]->dims, 0, *axis);
  for (int64_t o = 0; o < outer; ++o) {
    for (const Value* v : in) {
      const int64_t chunk = Product(v->dims, *axis);
      for (int64_t i = o * chunk; i < (o + 1) * chunk; ++i) {
        if (v->is_float()) {
          out.floats.push_back(v->floats[i]);
        } else {
          out.ints.push_back(v->ints[i]);
        }
      }
    }
  }
  return Folded(Values{std::move(out)});
}

Folded FoldSlice(const Node& node, const std::vector<const Value*>& in) {
  const Value& data = *in[0];
  const int64_t rank = static_cast<int64_t>(data.dims.size());
  std::optional<std::vector<int64_t>> starts, ends, axes, steps;
  if (in.size() == 1) {
    starts = FindIntsAttr(node, "starts");
    ends = FindIntsAttr(node, "ends");
    axes = FindIntsAttr(node, "axes");
  } else {
    if (in.size() < 3 || in[1] == nullptr || in[2] == nullptr) return std::nullopt;
    starts = KnownInts(*in[1]);
    ends = KnownInts(*in[2]);
    if (in.size() > 3 && in[3] != nullptr) axes = KnownInts(*in[3]);
    if (in.size() > 4 && in[4] != nullptr) steps = KnownInts(*in[4]);
    if ((in.size() > 3 && in[3] != nullptr && !axes) ||
        (in.size() > 4 && in[4] != nullptr && !steps)) {
      return std::nullopt;
    }
  }
  if (!starts || !ends || starts->size() != ends->size()) return std::nullopt;
  if (!axes) {
    axes.emplace();
    for (size_t i = 0; i < starts->size(); ++i) axes->push_back(static_cast<int64_t>(i));
  }
  if (!steps) steps = std::vector<int64_t>(starts->size(), 1);
  if (axes->size() != starts->size() || steps->size() != starts->size()) return std::nullopt;
  std::vector<int64_t> begin(rank, 0), step(rank, 1), count = data.dims;
  for (size_t i = 0; i < starts->size(); ++i) {
    const std::optional<int64_t> axis = NormalizeAxis((*axes)[i], rank);
    const int64_t s = (*steps)[i];
    if (!axis || s == 0) return std::nullopt;
    const int64_t dim = data.dims[*axis];
    int64_t b = (*starts)[i], e = (*ends)[i];
    if (b < 0) b += dim;
    if (e < 0) e += dim;
    if (s > 0) {
      b = std::clamp<int64_t>(b, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      count[*axis] = std::max<int64_t>(0, (e - b + s - 1) / s);
    } else {
      b = std::clamp<int64_t>(b, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      count[*axis] = std::max<int64_t>(0, (b - e - s - 1) / -s);
    }
    begin[*axis] = b;
    step[*axis] = s;
  }
  std::vector<int64_t> picks;
  const int64_t total = Product(count);
  std::vector<int64_t> coord(rank, 0);
  for (int64_t n = 0; n < total; ++n) {
    int64_t flat = 0;
    for (int64_t a = 0; a < rank; ++a) flat = flat * data.dims[a] + begin[a] + coord[a] * step[a];
    picks.push_back(flat);
    for (int64_t a = rank - 1; a >= 0 && ++coord[a] == count[a]; --a) coord[a] = 0;
  }
  return Values{Pick(data, picks, count)};
}

Folded FoldCast(const Node& node, const Value& x) {
  using T = int64_t;
  const T to = IntAttr(node, "to", 0);
  // onnx::TensorProto::DataType: FLOAT=1, FLOAT16=10, DOUBLE=11, BFLOAT16=16;
  // integers 2-7, 12, 13; BOOL=9.
  const bool to_float = to == 1 || to == 10 || to == 11 || to == 16;
  const bool to_int = (to >= 2 && to <= 7) || to == 12 || to == 13;
  const bool to_bool = to == 9;
  Value out{.type = to_float ? Constant::Type::kFloat32 : Constant::Type::kInt64,
            .dims = x.dims,
            .floats = {},
            .ints = {}};
  if (to_float) {
    if (!x.known()) return std::nullopt;
    if (x.is_float()) return Values{x};
    for (const Dim& d : x.ints) out.floats.push_back(static_cast<float>(d.value));
  } else if (to_int || to_bool) {
    if (x.is_float()) {
      for (float f : x.floats) {
        out.ints.push_back(Known(to_bool ? f != 0.0f : static_cast<int64_t>(std::trunc(f))));
      }
    } else if (to_bool) {
      if (!x.known()) return std::nullopt;
      for (const Dim& d : x.ints) out.ints.push_back(Known(d.value != 0));
    } else {
      out.ints = x.ints;
    }
  } else {
    return std::nullopt;
  }
  return Values{std::move(out)};
}

Folded FoldTranspose(const Node& node, const Value& x) {
  const int64_t rank = static_cast<int64_t>(x.dims.size());
  std::vector<int64_t> perm = FindIntsAttr(node, "perm").value_or(std::vector<int64_t>());
  if (perm.empty()) {
    for (int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
  }
  if (static_cast<int64_t>(perm.size()) != rank) return std::nullopt;
  std::vector<int64_t> dims, strides(rank, 1);
  for (int64_t a = rank - 2; a >= 0; --a) strides[a] = strides[a + 1] * x.dims[a + 1];
  std::vector<int64_t> in_stride;
  for (int64_t p : perm) {
    if (p < 0 || p >= rank) return std::nullopt;
    dims.push_back(x.dims[p]);
    in_stride.push_back(strides[p]);
  }
  std::vector<int64_t> picks;
  std::vector<int64_t> coord(rank, 0);
  const int64_t total = Product(dims);
  for (int64_t n = 0; n < total; ++n) {
    int64_t flat = 0;
    for (int64_t a = 0; a < rank; ++a) flat += coord[a] * in_stride[a];
    picks.push_back(flat);
    for (int64_t a = rank - 1; a >= 0 && ++coord[a] == dims[a]; --a) coord[a] = 0;
  }
  return Values{Pick(x, picks, std::move(dims))};
}

namespace {

// Reshape-5+ target semantics: 0 copies the input dimension (unless
// allowzero), one -1 is inferred.
std::optional<std::vector<int64_t>> ReshapeTarget(const Node& node, std::vector<int64_t> target,
                                                  const std::vector<int64_t>& in) {
  const bool allow_zero = IntAttr(node, "allowzero", 0) != 0;
  int infer = -1;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == 0 && !allow_zero) {
      if (i >= in.size()) return std::nullopt;
      target[i] = in[i];
    } else if (target[i] == -1) {
      if (infer >= 0) return std::nullopt;
      infer = static_cast<int>(i);
    } else if (target[i] < 0) {
      return std::nullopt;
    }
  }
  if (infer >= 0) {
    target[infer] = 1;
    const int64_t known = Product(target);
    if (known == 0 || Product(in) % known != 0) return std::nullopt;
    target[infer] = Product(in) / known;
  }
  if (Product(target) != Product(in)) return std::nullopt;
  return target;
}

}  // namespace

Folded FoldReshape(const Node& node, const Value& data, const Value& shape) {
  const std::optional<std::vector<int64_t>> target = KnownInts(shape);
  if (!target) return std::nullopt;
  std::optional<std::vector<int64_t>> dims = ReshapeTarget(node, *target, data.dims);
  if (!dims) return std::nullopt;
  Value out = data;
  out.dims = std::move(*dims);
  return Values{std::move(out)};
}

absl::StatusOr<Folded> FoldConstantOfShape(const Node& node, const Value& shape) {
  const std::optional<std::vector<int64_t>> dims = KnownInts(shape);
  if (!dims) return Folded();
  ASSIGN_OR_RETURN(const int64_t n, CheckedElementCount(node, *dims));
  Value out{.type = Constant::Type::kFloat32, .dims = *dims, .floats = {}, .ints = {}};
  // The importer turns the one-element `value` tensor into a scalar attribute.
  const auto it = node.attributes.find("value");
  if (it != node.attributes.end() && std::holds_alternative<int64_t>(it->second)) {
    out.type = Constant::Type::kInt64;
    out.ints.assign(n, Known(std::get<int64_t>(it->second)));
  } else {
    const float* f = it != node.attributes.end() ? std::get_if<float>(&it->second) : nullptr;
    out.floats.assign(n, f != nullptr ? *f : 0.0f);
  }
  return Folded(Values{std::move(out)});
}

absl::StatusOr<Folded> FoldRange(const Node& node, const Value& start, const Value& limit,
                                 const Value& delta) {
  if (start.size() != 1 || limit.size() != 1 || delta.size() != 1) return Folded();
  if (start.type != limit.type || start.type != delta.type) return Folded();
  if (!start.is_float() && (!start.known() || !limit.known() || !delta.known())) return Folded();
  const double s = start.is_float() ? start.floats[0] : static_cast<double>(start.ints[0].value);
  const double l = start.is_float() ? limit.floats[0] : static_cast<double>(limit.ints[0].value);
  const double d = start.is_float() ? delta.floats[0] : static_cast<double>(delta.ints[0].value);
  if (d == 0.0) return Invalid(node, "delta is 0");
  // ONNX Range: max(ceil((limit - start) / delta), 0) elements.
  const double count = std::max(0.0, std::ceil((l - s) / d));
  if (!(count <= static_cast<double>(kMaxEvaluatedElements))) {
    return Invalid(node, absl::StrCat("would make ", count, " elements, more than the limit of ",
                                      kMaxEvaluatedElements,
                                      " for tensors computed from constants"));
  }
  const int64_t n = static_cast<int64_t>(count);
  Value out{.type = start.type, .dims = {n}, .floats = {}, .ints = {}};
  for (int64_t i = 0; i < n; ++i) {
    if (start.is_float()) {
      out.floats.push_back(start.floats[0] + static_cast<float>(i) * delta.floats[0]);
    } else {
      out.ints.push_back(Known(start.ints[0].value + i * delta.ints[0].value));
    }
  }
  return Folded(Values{std::move(out)});
}

namespace {

// Numpy-style broadcast of two shapes; nullopt when they do not broadcast.
std::optional<std::vector<int64_t>> BroadcastDims(std::vector<int64_t> a, std::vector<int64_t> b) {
  const size_t rank = std::max(a.size(), b.size());
  a.insert(a.begin(), rank - a.size(), 1);
  b.insert(b.begin(), rank - b.size(), 1);
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    if (a[i] != b[i] && a[i] != 1 && b[i] != 1) return std::nullopt;
    out[i] = a[i] == 1 ? b[i] : a[i];
  }
  return out;
}

// Flat index into `dims` (right-aligned against `out`) for output coordinate `coord`.
int64_t BroadcastIndex(const std::vector<int64_t>& dims, const std::vector<int64_t>& out,
                       const std::vector<int64_t>& coord) {
  int64_t flat = 0;
  const size_t offset = out.size() - dims.size();
  for (size_t i = 0; i < dims.size(); ++i) {
    flat = flat * dims[i] + (dims[i] == 1 ? 0 : coord[offset + i]);
  }
  return flat;
}

// Advances `coord` to the next element of `dims` in row-major order.
void NextCoordinate(std::vector<int64_t>& coord, const std::vector<int64_t>& dims) {
  for (int64_t k = static_cast<int64_t>(coord.size()) - 1; k >= 0 && ++coord[k] == dims[k]; --k) {
    coord[k] = 0;
  }
}

}  // namespace

absl::StatusOr<Folded> FoldArithmetic(const Node& node, const Value& a, const Value& b,
                                       SymbolSource& symbols) {
  if (a.type != b.type) return Folded();
  const std::optional<std::vector<int64_t>> dims = BroadcastDims(a.dims, b.dims);
  if (!dims) return Invalid(node, "the operands' shapes do not broadcast");
  RETURN_IF_ERROR(CheckedElementCount(node, *dims).status());
  const std::string& op = node.op_type;
  Value out{.type = a.type, .dims = *dims, .floats = {}, .ints = {}};
  std::vector<int64_t> coord(dims->size(), 0);
  const int64_t total = Product(*dims);
  for (int64_t n = 0; n < total; ++n) {
    const int64_t i = BroadcastIndex(a.dims, *dims, coord);
    const int64_t j = BroadcastIndex(b.dims, *dims, coord);
    if (a.is_float()) {
      const float x = a.floats[i], y = b.floats[j];
      out.floats.push_back(op == "Add" ? x + y : op == "Sub" ? x - y : op == "Mul" ? x * y : x / y);
    } else {
      const Dim x = a.ints[i], y = b.ints[j];
      if (x.known() && y.known()) {
        if (op == "Div" && y.value == 0) return Invalid(node, "integer division by zero");
        out.ints.push_back(Known(op == "Add"   ? x.value + y.value
                                 : op == "Sub" ? x.value - y.value
                                 : op == "Mul" ? x.value * y.value
                                               : x.value / y.value));
      } else if ((op == "Add" || op == "Sub") && y.known() && y.value == 0) {
        out.ints.push_back(x);
      } else if ((op == "Mul" || op == "Div") && y.known() && y.value == 1) {
        out.ints.push_back(x);
      } else if (op == "Add" && x.known() && x.value == 0) {
        out.ints.push_back(y);
      } else if (op == "Mul" && x.known() && x.value == 1) {
        out.ints.push_back(y);
      } else {
        out.ints.push_back(symbols.Fresh());
      }
    }
    NextCoordinate(coord, *dims);
  }
  return Folded(Values{std::move(out)});
}

// Equal as int64 0/1 (quantd keeps booleans as integers). An unknown (a
// symbol: the batch, or arithmetic on it, which may be negative) leaves the
// node unfolded; it folds when a Plan compiles for a known input shape.
absl::StatusOr<Folded> FoldEqual(const Node& node, const Value& a, const Value& b) {
  if (a.type != b.type) return Folded();
  const std::optional<std::vector<int64_t>> dims = BroadcastDims(a.dims, b.dims);
  if (!dims) return Invalid(node, "the operands' shapes do not broadcast");
  ASSIGN_OR_RETURN(const int64_t total, CheckedElementCount(node, *dims));
  Value out{.type = Constant::Type::kInt64, .dims = *dims, .floats = {}, .ints = {}};
  std::vector<int64_t> coord(dims->size(), 0);
  for (int64_t n = 0; n < total; ++n) {
    const int64_t i = BroadcastIndex(a.dims, *dims, coord);
    const int64_t j = BroadcastIndex(b.dims, *dims, coord);
    if (a.is_float()) {
      out.ints.push_back(Known(a.floats[i] == b.floats[j] ? 1 : 0));
    } else {
      const Dim x = a.ints[i], y = b.ints[j];
      if (x == y) {
        out.ints.push_back(Known(1));
      } else if (x.known() && y.known()) {
        out.ints.push_back(Known(0));
      } else {
        return Folded();
      }
    }
    NextCoordinate(coord, *dims);
  }
  return Folded(Values{std::move(out)});
}

// Where(condition, x, y) on a known integer condition.
absl::StatusOr<Folded> FoldWhere(const Node& node, const Value& condition, const Value& x,
                                 const Value& y) {
  if (condition.is_float() || !condition.known() || x.type != y.type) return Folded();
  std::optional<std::vector<int64_t>> dims = BroadcastDims(condition.dims, x.dims);
  if (dims) dims = BroadcastDims(*dims, y.dims);
  if (!dims) return Invalid(node, "the operands' shapes do not broadcast");
  ASSIGN_OR_RETURN(const int64_t total, CheckedElementCount(node, *dims));
  Value out{.type = x.type, .dims = *dims, .floats = {}, .ints = {}};
  std::vector<int64_t> coord(dims->size(), 0);
  for (int64_t n = 0; n < total; ++n) {
    const bool pick_x = condition.ints[BroadcastIndex(condition.dims, *dims, coord)].value != 0;
    const Value& from = pick_x ? x : y;
    const int64_t at = BroadcastIndex(from.dims, *dims, coord);
    if (from.is_float()) {
      out.floats.push_back(from.floats[at]);
    } else {
      out.ints.push_back(from.ints[at]);
    }
    NextCoordinate(coord, *dims);
  }
  return Folded(Values{std::move(out)});
}

// Shape-1 returns every dimension; Shape-15 adds start/end (Python slicing).
Folded FoldShape(const Node& node, const SymShape& shape) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  int64_t start = IntAttr(node, "start", 0), end = IntAttr(node, "end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, start, rank);
  const std::vector<Dim> elems(shape.begin() + start, shape.begin() + end);
  return Values{IntVector(elems, {end - start})};
}

Folded FoldSize(const SymShape& shape) {
  int64_t n = 1;
  for (const Dim& d : shape) {
    if (!d.known()) return std::nullopt;
    n *= d.value;
  }
  return Values{IntVector({Known(n)}, {})};
}

// Expand-8: `data` broadcast to the shape given (numpy rules, both ways).
absl::StatusOr<Folded> FoldExpand(const Node& node, const Value& data, const Value& shape) {
  const std::optional<std::vector<int64_t>> target = KnownInts(shape);
  if (!target || (!data.is_float() && !data.known())) return Folded();
  const std::optional<std::vector<int64_t>> dims = BroadcastDims(data.dims, *target);
  if (!dims) return Invalid(node, "the input does not broadcast to the requested shape");
  RETURN_IF_ERROR(CheckedElementCount(node, *dims).status());
  std::vector<int64_t> picks;
  std::vector<int64_t> coord(dims->size(), 0);
  const int64_t total = Product(*dims);
  for (int64_t n = 0; n < total; ++n) {
    picks.push_back(BroadcastIndex(data.dims, *dims, coord));
    NextCoordinate(coord, *dims);
  }
  return Folded(Values{Pick(data, picks, *dims)});
}

}  // namespace

bool IsEvaluableOp(std::string_view op_type) {
  static const auto* const kOps = new std::set<std::string, std::less<>>{
      "Identity", "Shape",  "Size",  "Gather", "Transpose", "Unsqueeze",       "Squeeze",
      "Concat",   "Slice",  "Cast",  "Reshape", "Range",    "ConstantOfShape", "Expand",
      "Add",      "Sub",    "Mul",   "Div",     "Equal",    "Where"};
  return kOps->count(op_type) > 0;
}

absl::StatusOr<Folded> EvaluateNode(const Node& node, const std::vector<const Value*>& in,
                                    const SymShape* input0_shape, SymbolSource& symbols) {
  const std::string& op = node.op_type;
  if (op == "Shape" && input0_shape != nullptr) return FoldShape(node, *input0_shape);
  if (op == "Size" && input0_shape != nullptr) return FoldSize(*input0_shape);
  for (size_t i = 0; i < in.size(); ++i) {
    // An input that is named but not known (a runtime tensor).
    if (in[i] == nullptr && i < node.inputs.size() && !node.inputs[i].empty()) return Folded();
  }
  if (in.empty() || in[0] == nullptr) return Folded();
  if (op == "Identity") return Folded(Values{*in[0]});
  if (op == "Cast") return FoldCast(node, *in[0]);
  if (op == "Transpose") return FoldTranspose(node, *in[0]);
  if (op == "Unsqueeze") return FoldUnsqueeze(node, in);
  if (op == "Squeeze") return FoldSqueeze(node, in);
  if (op == "Concat") return FoldConcat(node, in);
  if (op == "Slice") return FoldSlice(node, in);
  if (op == "ConstantOfShape") return FoldConstantOfShape(node, *in[0]);
  if (in.size() < 2 || in[1] == nullptr) return Folded();
  if (op == "Gather") return FoldGather(node, *in[0], *in[1]);
  if (op == "Reshape") return FoldReshape(node, *in[0], *in[1]);
  if (op == "Expand") return FoldExpand(node, *in[0], *in[1]);
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
    return FoldArithmetic(node, *in[0], *in[1], symbols);
  }
  if (op == "Equal") return FoldEqual(node, *in[0], *in[1]);
  if (op == "Where" && in.size() == 3 && in[2] != nullptr) {
    return FoldWhere(node, *in[0], *in[1], *in[2]);
  }
  if (op == "Range" && in.size() == 3 && in[2] != nullptr) {
    return FoldRange(node, *in[0], *in[1], *in[2]);
  }
  return Folded();
}

}  // namespace quantd::engine::constant_evaluation
