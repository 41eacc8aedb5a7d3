// CAA's fine-tuning baseline (steer/caa.h, CaaOptions::finetune_steps): the model fine-tuned
// towards each side of the train pairs, then the test questions scored on each fine-tuned copy
// with this run's vectors stacked on top, as the paper steers its fine-tuned models.
#include <algorithm>

#include "pipelines/caa_common.h"
#include "steer/error.h"
#include "steer/finetune.h"
#include "steer/model.h"

namespace steer::caa_detail {

void add_finetune_baselines(const Model& model, const CaaOptions& o, const FinetuneInputs& in, CaaRun& run) {
  // The train pairs as the paper trains on them: the question, "(" and the letter to predict.
  const std::vector<ChoiceQuestion> train_q = encode_questions(model, in.train, in.system_turn);
  for (int side = 0; side < 2; ++side) {
    const bool towards_matching = side == 0;
    std::vector<AnswerExample> data;
    for (size_t i = 0; i < in.train.size(); ++i) {
      const ABItem& it = in.train[i];
      const char want = letter_of(towards_matching ? it.answer_matching : it.answer_not_matching);
      const ChoiceQuestion& q = train_q[i];
      auto k = std::find(q.letters.begin(), q.letters.end(), want) - q.letters.begin();
      if (k >= int64_t(q.letters.size())) fail("caa: train pair " + std::to_string(i) + " answers a letter it does not offer");
      data.push_back({q.prompt.ids, q.letter_ids[size_t(k)]});
    }
    FinetuneOptions fo;
    fo.steps = o.finetune_steps;
    fo.batch_size = o.finetune_batch;
    fo.learning_rate = o.finetune_lr;
    fo.seed = o.seed + 7;
    fo.progress = o.progress;
    const std::string towards = towards_matching ? "matching" : "not matching";
    fo.label = "fine-tune (" + towards + ")";
    FinetuneResult ft = finetune_answers(model, data, fo);
    run.finetune.push_back({towards, ft.step_loss, ft.loss_before, ft.loss_after, ft.seconds});

    ChoiceSweepOptions so = in.sweep_options;
    so.label = "fine-tuned (" + towards + ")";
    ChoiceSweep sw = choice_sweep(*ft.model, in.questions, run.vectors, in.stacked, so);
    const std::string name = "fine-tuned " + towards + " (" + std::to_string(o.finetune_steps) + " steps)";
    std::vector<double> base = p_matching(sw, 0, in.test);
    for (size_t s = 0; s < in.stacked.size(); ++s) {
      const double m = in.stacked[s].multiplier;
      run.baselines.push_back(score_of(
          name + (s == 0 ? "" : ", layer " + std::to_string(in.stacked[s].layer) + " m=" + signed_multiplier(m)), m,
          p_matching(sw, s, in.test), base));
    }
    run.metadata["finetune"][towards] = {{"steps", o.finetune_steps},       {"batch", o.finetune_batch},
                                         {"learning_rate", o.finetune_lr},  {"examples", data.size()},
                                         {"trained_parameters", ft.trained_parameters},
                                         {"loss_before", ft.loss_before},   {"loss_after", ft.loss_after},
                                         {"seconds", ft.seconds}};
  }
}

}  // namespace steer::caa_detail
