// Fused Adam / AdamW: one pass over a parameter tensor and its state.
#pragma once
#include <cstdint>

namespace ember::cpu {

// The hyper-parameters of one Adam step (PyTorch's names).
struct AdamConfig {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  int64_t step = 1;       // the step number *after* incrementing (1 on the first update)
  bool amsgrad = false;   // keep the running max of v and use it in the denominator
  bool maximize = false;  // ascend instead of descend
  bool decoupled = false; // AdamW: p *= 1 - lr*wd, instead of g += wd*p
};

// Updates n elements in place: param, exp_avg (m), exp_avg_sq (v) and, with amsgrad,
// max_exp_avg_sq. grad is read only. All arrays are contiguous and of length n.
void adam_step(float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
               float* max_exp_avg_sq, int64_t n, const AdamConfig& cfg);
void adam_step(double* param, const double* grad, double* exp_avg, double* exp_avg_sq,
               double* max_exp_avg_sq, int64_t n, const AdamConfig& cfg);

// The same update by a plain loop in double (adam.cpp, top): the tests' oracle.
template <typename T>
void adam_step_reference(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq,
                         int64_t n, const AdamConfig& cfg);

}  // namespace ember::cpu
