// Fruit to emoji for the Arduino Nano 33 BLE Sense with Chirale_TensorFLowLite 2.0.0.
//
// When the APDS9960 sees an object close by, the sketch takes one colour reading, turns the
// red, green and blue counts into proportions of their sum (the features the model was trained
// on: data/*.csv hold r/(r+g+b), g/(r+g+b), b/(r+g+b)), runs the model from model.h and prints
// the predicted fruit with its emoji. One prediction per object: the next one waits until the
// object has been taken away.
#include <Arduino_APDS9960.h>
#include <Chirale_TensorFlowLite.h>

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_log.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

#include "model.h"

// Class order of the model's output (the label order of make_model.py).
const char* const kClassNames[] = {"apple", "banana", "orange"};
const char* const kEmojis[] = {"\xF0\x9F\x8D\x8E", "\xF0\x9F\x8D\x8C", "\xF0\x9F\x8D\x8A"};
const int kNumClasses = sizeof(kClassNames) / sizeof(kClassNames[0]);

// The APDS9960 reports proximity from 0 (touching) to 255 (nothing in range).
const int kProximityPresent = 10;
// Time the colour reading needs to settle once an object is in front of the sensor.
const unsigned long kSettleMs = 100;
const unsigned long kColourTimeoutMs = 500;
// The sensor has a new reading about every 10 ms: poll at that pace.
const unsigned long kPollMs = 10;

// The model needs about 1.4 KB on a 64-bit host and less on the board; 4 KB leaves room.
constexpr int kTensorArenaSize = 4 * 1024;
alignas(16) uint8_t tensor_arena[kTensorArenaSize];

tflite::MicroInterpreter* interpreter = nullptr;
TfLiteTensor* input = nullptr;
TfLiteTensor* output = nullptr;
bool object_classified = false;

void halt(const char* message) {
  Serial.println(message);
  while (true) {
    delay(1000);
  }
}

bool object_present() {
  if (!APDS.proximityAvailable()) {
    return false;
  }
  return APDS.readProximity() <= kProximityPresent;
}

bool object_gone() {
  return APDS.proximityAvailable() && APDS.readProximity() > kProximityPresent;
}

// Waits for a colour reading; false when none came in time.
bool read_colour(int& r, int& g, int& b) {
  unsigned long start = millis();
  while (!APDS.colorAvailable()) {
    if (millis() - start > kColourTimeoutMs) {
      return false;
    }
    delay(5);
  }
  return APDS.readColor(r, g, b);
}

void setup() {
  Serial.begin(9600);
  unsigned long start = millis();
  while (!Serial && millis() - start < 3000) {
    delay(10);
  }

  if (!APDS.begin()) {
    halt("Failed to initialise the APDS9960 sensor");
  }

  const tflite::Model* model = tflite::GetModel(g_model_data);
  if (model->version() != TFLITE_SCHEMA_VERSION) {
    halt("Model schema version does not match the library");
  }

  // The model's operators: two FULLY_CONNECTED layers and a SOFTMAX.
  static tflite::MicroMutableOpResolver<2> resolver;
  if (resolver.AddFullyConnected() != kTfLiteOk || resolver.AddSoftmax() != kTfLiteOk) {
    halt("Failed to register the model's operators");
  }

  static tflite::MicroInterpreter static_interpreter(model, resolver, tensor_arena,
                                                     kTensorArenaSize);
  interpreter = &static_interpreter;
  if (interpreter->AllocateTensors() != kTfLiteOk) {
    halt("AllocateTensors() failed");
  }
  input = interpreter->input(0);
  output = interpreter->output(0);
  if (input->type != kTfLiteFloat32 || input->bytes != 3 * sizeof(float) ||
      output->type != kTfLiteFloat32 || output->bytes != kNumClasses * sizeof(float)) {
    halt("The model's tensors are not float32[1, 3] -> float32[1, 3]");
  }
  MicroPrintf("Tensor arena: %d of %d bytes used", (int)interpreter->arena_used_bytes(),
              kTensorArenaSize);
  Serial.println("Hold a fruit in front of the sensor");
}

void loop() {
  delay(kPollMs);
  if (object_classified) {
    // One prediction per object: wait until it has been taken away.
    if (object_gone()) {
      object_classified = false;
    }
    return;
  }
  if (!object_present()) {
    return;
  }

  delay(kSettleMs);
  int r = 0, g = 0, b = 0;
  if (!read_colour(r, g, b)) {
    return;
  }
  const float sum = (float)r + (float)g + (float)b;
  if (sum <= 0.0f) {
    return;
  }
  input->data.f[0] = r / sum;
  input->data.f[1] = g / sum;
  input->data.f[2] = b / sum;

  if (interpreter->Invoke() != kTfLiteOk) {
    Serial.println("Invoke failed");
    return;
  }

  int best = 0;
  for (int i = 1; i < kNumClasses; i++) {
    if (output->data.f[i] > output->data.f[best]) {
      best = i;
    }
  }
  Serial.print(kClassNames[best]);
  Serial.print(" ");
  Serial.println(kEmojis[best]);
  object_classified = true;
}
